{{
    config(
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'iso_3166_1', 'type': 'text', 'pattern': '^[A-Z]{2}$'},
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

    {{ unnest_json_array(
        'titles', 'production_countries_json', ['title_key', 'title_type', 'tmdb_id', 'batch_id']
    ) }}

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
        iso_3166_1 as country_code,
        name as tmdb_country_name,
        invalid_fields,
        batch_id
    from flagged

),

ranked as (

    -- a title lists each country once; a repeated element keeps its first position
    select
        *,
        row_number() over (partition by title_key, country_code order by element_position) as occurrence
    from renamed

),

deduplicated as (

    select
        {{ surrogate_key(['title_key', 'country_code']) }} as title_production_country_key,
        title_key,
        title_type,
        tmdb_id,
        country_code,
        tmdb_country_name,
        element_position as country_position,
        invalid_fields,
        batch_id
    from ranked
    where occurrence = 1

)

select * from deduplicated
