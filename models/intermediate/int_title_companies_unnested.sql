{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
    {'key': 'origin_country', 'type': 'text', 'pattern': '^[A-Z]{2}$'},
    {'key': 'logo_path', 'type': 'text'},
] -%}

with elements as (

    -- a title lists each company once; a repeated element keeps its first position
    {{ unnest_title_list(ref('int_titles_unioned'), 'production_companies_json', fields, unique_key='id') }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'id']) }} as title_company_key,
        title_key,
        title_type,
        tmdb_id,
        id as company_id,
        name as company_name,
        origin_country as origin_country_code,
        logo_path,
        element_position as company_position,
        invalid_fields,
        batch_id
    from elements

)

select * from final
