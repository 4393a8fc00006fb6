{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

with elements as (

    {{ unnest_title_list(ref('int_titles_unioned'), 'origin_countries_json') }}

),

renamed as (

    -- origin_country is a list of plain ISO 3166-1 codes; anything else is an invalid element
    select
        title_key,
        title_type,
        tmdb_id,
        element_position,
        case
            when {{ regex_full_match(json_get_text('element_json'), '^[A-Z]{2}$') }}
                then {{ json_get_text('element_json') }}
        end as country_code,
        case
            when not coalesce({{ regex_full_match(json_get_text('element_json'), '^[A-Z]{2}$') }}, false)
                then 'element'
        end as invalid_fields,
        batch_id
    from elements

),

deduplicated as (

    -- a title lists each country once; a repeated element keeps its first position
    {{ first_in_title_list('renamed', 'country_code') }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'country_code']) }} as title_origin_country_key,
        title_key,
        title_type,
        tmdb_id,
        country_code,
        element_position as country_position,
        invalid_fields,
        batch_id
    from deduplicated

)

select * from final
