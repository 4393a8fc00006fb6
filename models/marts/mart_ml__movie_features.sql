{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_titles_since_last_run(ref('fct_titles')) }}",
    )
}}

{#- TMDB's official movie genres (https://developer.themoviedb.org/reference/genre-movie-list), one
    multi-hot column each; any other genre id counts in other_genre_count. -#}
{%- set movie_genres = {
    28: 'action', 12: 'adventure', 16: 'animation', 35: 'comedy', 80: 'crime', 99: 'documentary',
    18: 'drama', 10751: 'family', 14: 'fantasy', 36: 'history', 27: 'horror', 10402: 'music',
    9648: 'mystery', 10749: 'romance', 878: 'science_fiction', 10770: 'tv_movie', 53: 'thriller',
    10752: 'war', 37: 'western',
} -%}

with titles as (

    -- a movie's features read only its own rows: an incremental build derives the touched movies only
    select * from {{ ref('fct_titles') }}
    {% if is_incremental() %}
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

title_names as (

    select * from {{ ref('dim_titles') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

title_genres as (

    select * from {{ ref('bridge_title_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

title_companies as (

    select * from {{ ref('bridge_title_companies') }}

),

title_countries as (

    select * from {{ ref('bridge_title_production_countries') }}

),

title_languages as (

    select * from {{ ref('bridge_title_spoken_languages') }}

),

genre_flags as (

    select
        title_genres.title_key,
        {% for genre_id, genre in movie_genres.items() -%}
            max(case when genres.genre_id = {{ genre_id }} then 1 else 0 end) as is_genre_{{ genre }},
        {% endfor -%}
        sum(
            case when genres.genre_id in ({{ movie_genres.keys() | join(', ') }}) then 0 else 1 end
        ) as other_genre_count,
        count(*) as genre_count
    from title_genres
    inner join genres
        on title_genres.genre_key = genres.genre_key
    group by title_genres.title_key

),


language_counts as (

    select
        title_key,
        count(*) as language_count
    from title_languages
    group by title_key

),

company_summaries as (

    -- the first-listed company as a category; the trainer keeps the most frequent ones of its training rows
    select
        title_key,
        count(*) as company_count,
        max(case when company_position = 1 then company_key end) as lead_company_key
    from title_companies
    group by title_key

),

companies as (

    select * from {{ ref('dim_companies') }}

),

country_summaries as (

    select
        title_key,
        count(*) as country_count,
        max(case when country_position = 1 then country_key end) as lead_country_key
    from title_countries
    group by title_key

),

countries as (

    select * from {{ ref('dim_countries') }}

),

features as (

    -- the label is revenue; no feature is derived from it (no profit, no ROI, no "has revenue"). Each
    -- column's role (pre-release feature, post-release, label...) is declared in its YAML meta.ml_role
    select
        titles.title_key,
        title_names.tmdb_id,
        dates.year_number as release_year,
        dates.date_day as release_date,
        dates.month_number as release_month,
        dates.quarter_number as release_quarter,
        dates.iso_day_of_week as release_weekday,
        titles.runtime_minutes,
        titles.budget_usd,
        -- staging turns TMDB's 0 ("not entered") into NULL: missing is a fact of its own, not a budget of 0
        titles.budget_usd is null as is_budget_missing,
        title_names.homepage_url is not null as has_homepage,
        title_names.tagline is not null as has_tagline,
        cast(coalesce({{ dbt.length('title_names.overview') }}, 0) as integer) as overview_length,
        cast(coalesce({{ dbt.length('title_names.title') }}, 0) as integer) as title_length,
        titles.popularity,
        titles.vote_count,
        titles.vote_average,
        title_names.original_language_code,
        companies.company_id as lead_company_id,
        countries.country_code as lead_country_code,
        titles.collection_key != {{ surrogate_key(['null']) }} as is_in_collection,
        title_names.is_adult,
        title_names.is_video,
        {% for genre in movie_genres.values() -%}
            cast(coalesce(genre_flags.is_genre_{{ genre }}, 0) as integer) as is_genre_{{ genre }},
        {% endfor -%}
        cast(coalesce(genre_flags.other_genre_count, 0) as integer) as other_genre_count,
        cast(coalesce(genre_flags.genre_count, 0) as integer) as genre_count,
        cast(coalesce(company_summaries.company_count, 0) as integer) as company_count,
        cast(coalesce(country_summaries.country_count, 0) as integer) as country_count,
        cast(coalesce(language_counts.language_count, 0) as integer) as language_count,
        titles.revenue_usd as label_revenue_usd,
        titles.batch_id
    from titles
    inner join title_names
        on titles.title_key = title_names.title_key
    inner join dates
        on titles.release_date_key = dates.date_key
    left join genre_flags
        on titles.title_key = genre_flags.title_key
    left join language_counts
        on titles.title_key = language_counts.title_key
    left join company_summaries
        on titles.title_key = company_summaries.title_key
    left join companies
        on company_summaries.lead_company_key = companies.company_key
    left join country_summaries
        on titles.title_key = country_summaries.title_key
    left join countries
        on country_summaries.lead_country_key = countries.country_key
    where titles.title_type = 'movie'

)

select * from features
