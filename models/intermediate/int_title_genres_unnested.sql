{{
    config(
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
] -%}

with titles as (

    select * from {{ ref('int_titles_unioned') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

elements as (

    {{ unnest_json_array('titles', 'genres_json', ['title_key', 'title_type', 'tmdb_id', 'batch_id']) }}

),

parsed as (

    select
        *,
        {{ json_parse_fields('element_json', spec_keys(fields)) }} as element_fields
    from elements

),

typed as (

    select
        *,
        {{- typed_fields('element_fields', fields) }}
    from parsed

),

flagged as (

    select
        *,
        {{ invalid_fields('element_fields', fields, [invalid_element('element_json')]) }} as invalid_fields
    from typed

),

renamed as (

    select
        title_key,
        title_type,
        tmdb_id,
        element_position,
        id as genre_id,
        name as genre_name,
        invalid_fields,
        batch_id
    from flagged

),

ranked as (

    -- a title lists each genre once; a repeated element keeps its first position
    select
        *,
        row_number() over (partition by title_key, genre_id order by element_position) as occurrence
    from renamed

),

deduplicated as (

    select
        {{ surrogate_key(['title_key', 'genre_id']) }} as title_genre_key,
        title_key,
        title_type,
        tmdb_id,
        genre_id,
        genre_name,
        element_position as genre_position,
        invalid_fields,
        batch_id
    from ranked
    where occurrence = 1

)

select * from deduplicated
