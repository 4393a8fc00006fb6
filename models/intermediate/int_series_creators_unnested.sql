{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

{#- The fields read from each element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'name', 'type': 'text'},
    {'key': 'gender', 'type': 'bigint', 'check': '{value} between 0 and 3'},
    {'key': 'credit_id', 'type': 'text'},
    {'key': 'profile_path', 'type': 'text'},
] -%}

with elements as (

    -- a series lists each creator once; a repeated element keeps its first position
    {{ unnest_title_list(ref('int_titles_unioned'), 'creators_json', fields, unique_key='id') }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'id']) }} as series_creator_key,
        title_key,
        title_type,
        tmdb_id,
        id as person_id,
        name as person_name,
        gender as gender_code,
        credit_id,
        profile_path,
        element_position as creator_position,
        invalid_fields,
        batch_id
    from elements

)

select * from final
