{{ config(pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}") }}

{#- The fields read from each season element, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'id', 'type': 'bigint'},
    {'key': 'season_number', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'name', 'type': 'text'},
    {'key': 'episode_count', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'air_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'poster_path', 'type': 'text'},
] -%}

with elements as (

    {{ unnest_title_list(ref('int_titles_unioned'), 'seasons_json', fields) }}

),

renamed as (

    -- one row per element of the series' seasons list (season 0 holds the specials); keyed by its
    -- position because a broken element may lack a season number
    select
        {{ surrogate_key(['title_key', 'element_position']) }} as series_season_key,
        title_key,
        tmdb_id as series_id,
        element_position as season_position,
        id as season_id,
        season_number,
        name as season_name,
        episode_count,
        air_date,
        poster_path,
        invalid_fields,
        batch_id
    from elements

)

select * from renamed
