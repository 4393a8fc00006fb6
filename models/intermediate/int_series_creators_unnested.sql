{{
    config(
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
    {'key': 'gender', 'type': 'bigint', 'check': '{value} between 0 and 3'},
    {'key': 'credit_id', 'type': 'text'},
    {'key': 'profile_path', 'type': 'text'},
] -%}

with titles as (

    select * from {{ ref('int_titles_unioned') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

elements as (

    {{ unnest_json_array('titles', 'creators_json', ['title_key', 'title_type', 'tmdb_id', 'batch_id']) }}

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
        id as person_id,
        name as person_name,
        gender as gender_code,
        credit_id,
        profile_path,
        invalid_fields,
        batch_id
    from flagged

),

ranked as (

    -- a series lists each creator once; a repeated element keeps its first position
    select
        *,
        row_number() over (partition by title_key, person_id order by element_position) as occurrence
    from renamed

),

deduplicated as (

    select
        {{ surrogate_key(['title_key', 'person_id']) }} as series_creator_key,
        title_key,
        title_type,
        tmdb_id,
        person_id,
        person_name,
        gender_code,
        credit_id,
        profile_path,
        element_position as creator_position,
        invalid_fields,
        batch_id
    from ranked
    where occurrence = 1

)

select * from deduplicated
