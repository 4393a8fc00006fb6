with titles as (

    select * from {{ ref('fct_titles') }}

),

languages as (

    select * from {{ ref('dim_languages') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

title_language_decades as (

    -- each title counts once, in its original language
    select
        languages.language_key,
        languages.language_code,
        languages.language_name,
        dates.decade_start_year,
        titles.title_type
    from titles
    inner join languages
        on titles.original_language_key = languages.language_key
    inner join dates
        on titles.release_date_key = dates.date_key

),

aggregated as (

    select
        language_key,
        language_code,
        language_name,
        decade_start_year,
        count(*) as title_count,
        sum(case when title_type = 'movie' then 1 else 0 end) as movie_count,
        sum(case when title_type = 'series' then 1 else 0 end) as series_count
    from title_language_decades
    group by language_key, language_code, language_name, decade_start_year

),

final as (

    select
        {{ surrogate_key(['language_key', 'decade_start_year']) }} as language_decade_key,
        language_key,
        language_code,
        language_name,
        decade_start_year,
        cast(title_count as {{ dbt.type_bigint() }}) as title_count,
        cast(movie_count as {{ dbt.type_bigint() }}) as movie_count,
        cast(series_count as {{ dbt.type_bigint() }}) as series_count
    from aggregated

)

select * from final
