{{
    config(
        materialized='incremental',
        unique_key='series_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- The fields read from each series document, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'name', 'type': 'text'},
    {'key': 'original_name', 'type': 'text'},
    {'key': 'original_language', 'type': 'text', 'pattern': '^[a-z]{2}$'},
    {'key': 'overview', 'type': 'text'},
    {'key': 'status', 'type': 'text'},
    {'key': 'type', 'type': 'text'},
    {'key': 'first_air_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'last_air_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'in_production', 'type': 'boolean'},
    {'key': 'number_of_seasons', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'number_of_episodes', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'episode_run_time', 'type': 'array'},
    {'key': 'popularity', 'type': 'double', 'check': '{value} >= 0'},
    {'key': 'vote_count', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'vote_average', 'type': 'double', 'check': '{value} between 0 and 10'},
    {'key': 'homepage', 'type': 'text'},
    {'key': 'poster_path', 'type': 'text'},
    {'key': 'backdrop_path', 'type': 'text'},
    {'key': 'genres', 'type': 'array'},
    {'key': 'production_companies', 'type': 'array'},
    {'key': 'origin_country', 'type': 'array'},
    {'key': 'languages', 'type': 'array'},
    {'key': 'networks', 'type': 'array'},
    {'key': 'seasons', 'type': 'array'},
    {'key': 'created_by', 'type': 'array'},
] -%}

with documents as (

    -- one document per id, its fields typed and flagged (see stage_title_documents)
    {{ stage_title_documents(ref('raw_tmdb__series'), 'series_id', fields) }}

),

final as (

    select
        tmdb_id as series_id,
        name as series_name,
        original_name,
        original_language as original_language_code,
        overview,
        status,
        type as series_type,
        first_air_date,
        last_air_date,
        in_production as is_in_production,
        number_of_seasons,
        number_of_episodes,
        {{ json_array_mean('episode_run_time') }} as episode_runtime_minutes,
        popularity,
        vote_count,
        {{ rating_or_null('vote_average', 'vote_count') }} as vote_average,
        homepage as homepage_url,
        poster_path,
        backdrop_path,
        episode_run_time as episode_run_times_json,
        genres as genres_json,
        production_companies as production_companies_json,
        origin_country as origin_countries_json,
        languages as spoken_languages_json,
        networks as networks_json,
        seasons as seasons_json,
        created_by as creators_json,
        invalid_fields,
        duplicates_removed,
        batch_id,
        source_file,
        file_sha256,
        raw_record_key
    from documents

)

select * from final
