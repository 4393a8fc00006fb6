{{
    config(
        materialized='incremental',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- The fields read from each movie document, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'imdb_id', 'type': 'text', 'pattern': '^tt[0-9]+$'},
    {'key': 'title', 'type': 'text'},
    {'key': 'original_title', 'type': 'text'},
    {'key': 'original_language', 'type': 'text', 'pattern': '^[a-z]{2}$'},
    {'key': 'overview', 'type': 'text'},
    {'key': 'tagline', 'type': 'text'},
    {'key': 'status', 'type': 'text'},
    {'key': 'release_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'runtime', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'budget', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'revenue', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'popularity', 'type': 'double', 'check': '{value} >= 0'},
    {'key': 'vote_count', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'vote_average', 'type': 'double', 'check': '{value} between 0 and 10'},
    {'key': 'adult', 'type': 'boolean'},
    {'key': 'video', 'type': 'boolean'},
    {'key': 'homepage', 'type': 'text'},
    {'key': 'poster_path', 'type': 'text'},
    {'key': 'backdrop_path', 'type': 'text'},
    {'key': 'belongs_to_collection', 'type': 'object',
        'check': json_get_as('{value}', 'id', 'bigint') ~ ' is not null'},
    {'key': 'genres', 'type': 'array'},
    {'key': 'production_companies', 'type': 'array'},
    {'key': 'production_countries', 'type': 'array'},
    {'key': 'spoken_languages', 'type': 'array'},
] -%}

with documents as (

    -- one document per id, its fields typed and flagged (see stage_title_documents)
    {{ stage_title_documents(ref('raw_tmdb__movies'), 'movie_id', fields) }}

),

final as (

    select
        tmdb_id as movie_id,
        imdb_id,
        title,
        original_title,
        original_language as original_language_code,
        overview,
        tagline,
        status,
        release_date,
        cast({{ null_if_zero('runtime') }} as integer) as runtime_minutes,
        {{ null_if_zero('budget') }} as budget_usd,
        {{ null_if_zero('revenue') }} as revenue_usd,
        popularity,
        vote_count,
        {{ rating_or_null('vote_average', 'vote_count') }} as vote_average,
        adult as is_adult,
        video as is_video,
        homepage as homepage_url,
        poster_path,
        backdrop_path,
        {{ json_get_as('belongs_to_collection', 'id', 'bigint') }} as collection_id,
        {{ json_get_text('belongs_to_collection', 'name') }} as collection_name,
        genres as genres_json,
        production_companies as production_companies_json,
        production_countries as production_countries_json,
        spoken_languages as spoken_languages_json,
        invalid_fields,
        duplicates_removed,
        batch_id,
        source_file,
        file_sha256,
        raw_record_key
    from documents

)

select * from final
