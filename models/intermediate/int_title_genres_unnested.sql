{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
] -%}

with elements as (

    -- a title lists each genre once; a repeated element keeps its first position
    {{ unnest_title_list(ref('int_titles_unioned'), 'genres_json', fields, unique_key='id') }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'id']) }} as title_genre_key,
        title_key,
        title_type,
        tmdb_id,
        id as genre_id,
        name as genre_name,
        element_position as genre_position,
        invalid_fields,
        batch_id
    from elements

)

select * from final
