{{
    config(
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
    {'key': 'origin_country', 'type': 'text', 'pattern': '^[A-Z]{2}$'},
    {'key': 'logo_path', 'type': 'text'},
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
        'titles', 'production_companies_json', ['title_key', 'title_type', 'tmdb_id', 'batch_id']
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
        id as company_id,
        name as company_name,
        origin_country as origin_country_code,
        logo_path,
        invalid_fields,
        batch_id
    from flagged

),

ranked as (

    -- a title lists each company once; a repeated element keeps its first position
    select
        *,
        row_number() over (partition by title_key, company_id order by element_position) as occurrence
    from renamed

),

deduplicated as (

    select
        {{ surrogate_key(['title_key', 'company_id']) }} as title_company_key,
        title_key,
        title_type,
        tmdb_id,
        company_id,
        company_name,
        origin_country_code,
        logo_path,
        element_position as company_position,
        invalid_fields,
        batch_id
    from ranked
    where occurrence = 1

)

select * from deduplicated
