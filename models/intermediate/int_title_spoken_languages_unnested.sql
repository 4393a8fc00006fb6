{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

with elements as (

    {{ unnest_title_list(ref('int_titles_unioned'), 'spoken_languages_json') }}

),

extracted as (

    -- movies list objects ({"iso_639_1": "en", "name": "English"}), series plain codes ("en")
    select
        title_key,
        title_type,
        tmdb_id,
        element_position,
        coalesce(
            {{ json_get_text('element_json', 'iso_639_1') }},
            {{ json_get_text('element_json') }}
        ) as element_code,
        {{ json_get_text('element_json', 'name') }} as tmdb_language_name,
        batch_id
    from elements

),

renamed as (

    select
        title_key,
        title_type,
        tmdb_id,
        element_position,
        case
            when {{ regex_full_match('element_code', '^[a-z]{2}$') }} then element_code
        end as language_code,
        {{ null_if_blank('tmdb_language_name') }} as tmdb_language_name,
        case
            when not coalesce({{ regex_full_match('element_code', '^[a-z]{2}$') }}, false) then 'element'
        end as invalid_fields,
        batch_id
    from extracted

),

deduplicated as (

    -- a title lists each language once; a repeated element keeps its first position
    {{ first_in_title_list('renamed', 'language_code') }}

),

final as (

    select
        {{ surrogate_key(['title_key', 'language_code']) }} as title_spoken_language_key,
        title_key,
        title_type,
        tmdb_id,
        language_code,
        tmdb_language_name,
        element_position as language_position,
        invalid_fields,
        batch_id
    from deduplicated

)

select * from final
