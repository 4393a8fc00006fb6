{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

{#- The fields read from each element, with their type and valid values (see typed_fields). A title lists
    each country once (unique_key): a repeated element keeps its first position. -#}
{%- set fields = [
    {'key': 'iso_3166_1', 'type': 'text', 'pattern': '^[A-Z]{2}$'},
    {'key': 'name', 'type': 'text'},
] -%}

with elements as (

    {{ unnest_title_list(
        ref('int_titles_unioned'), 'production_countries_json', fields, unique_key='iso_3166_1'
    ) }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'iso_3166_1']) }} as title_production_country_key,
        title_key,
        title_type,
        tmdb_id,
        iso_3166_1 as country_code,
        name as tmdb_country_name,
        element_position as country_position,
        invalid_fields,
        batch_id
    from elements

)

select * from final
