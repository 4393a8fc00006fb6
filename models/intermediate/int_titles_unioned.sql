{#- A view: the staging tables already hold one current row per id, so storing their union again would
    copy every document's text once more (~8 s at full size) for readers that each read it once. -#}
{{ config(materialized='view') }}

with movies as (

    select * from {{ ref('stg_tmdb__movies') }}

),

series as (

    select * from {{ ref('stg_tmdb__series') }}

),

movies_conformed as (

    select
        'movie' as title_type,
        movie_id as tmdb_id,
        title,
        original_title,
        original_language_code,
        overview,
        tagline,
        status,
        cast(null as {{ dbt.type_string() }}) as series_type,
        imdb_id,
        is_adult,
        is_video,
        cast(null as {{ dbt.type_boolean() }}) as is_in_production,
        release_date,
        cast(null as date) as last_air_date,
        runtime_minutes,
        budget_usd,
        revenue_usd,
        popularity,
        vote_count,
        vote_average,
        cast(null as {{ dbt.type_bigint() }}) as number_of_seasons,
        cast(null as {{ dbt.type_bigint() }}) as number_of_episodes,
        collection_id,
        collection_name,
        homepage_url,
        poster_path,
        backdrop_path,
        genres_json,
        production_companies_json,
        production_countries_json,
        cast(null as {{ type_json() }}) as origin_countries_json,
        spoken_languages_json,
        cast(null as {{ type_json() }}) as networks_json,
        cast(null as {{ type_json() }}) as seasons_json,
        cast(null as {{ type_json() }}) as creators_json,
        invalid_fields,
        batch_id,
        source_file
    from movies

),

series_conformed as (

    select
        'series' as title_type,
        series_id as tmdb_id,
        series_name as title,
        original_name as original_title,
        original_language_code,
        overview,
        cast(null as {{ dbt.type_string() }}) as tagline,
        status,
        series_type,
        cast(null as {{ dbt.type_string() }}) as imdb_id,
        cast(null as {{ dbt.type_boolean() }}) as is_adult,
        cast(null as {{ dbt.type_boolean() }}) as is_video,
        is_in_production,
        first_air_date as release_date,
        last_air_date,
        cast(round(episode_runtime_minutes) as integer) as runtime_minutes,
        cast(null as {{ dbt.type_bigint() }}) as budget_usd,
        cast(null as {{ dbt.type_bigint() }}) as revenue_usd,
        popularity,
        vote_count,
        vote_average,
        number_of_seasons,
        number_of_episodes,
        cast(null as {{ dbt.type_bigint() }}) as collection_id,
        cast(null as {{ dbt.type_string() }}) as collection_name,
        homepage_url,
        poster_path,
        backdrop_path,
        genres_json,
        production_companies_json,
        cast(null as {{ type_json() }}) as production_countries_json,
        origin_countries_json,
        spoken_languages_json,
        networks_json,
        seasons_json,
        creators_json,
        invalid_fields,
        batch_id,
        source_file
    from series

),

unioned as (

    select * from movies_conformed
    union all
    select * from series_conformed

),

keyed as (

    select
        {{ surrogate_key(['title_type', 'tmdb_id']) }} as title_key,
        *
    from unioned

)

select * from keyed
