with titles as (

    select * from {{ ref('fct_titles') }}

),

production_countries as (

    select * from {{ ref('bridge_title_production_countries') }}

),

origin_countries as (

    select * from {{ ref('bridge_title_origin_countries') }}

),

countries as (

    select * from {{ ref('dim_countries') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

title_countries as (

    -- a movie is produced in its production countries, a series in its origin countries
    select
        title_key,
        country_key
    from production_countries
    union all
    select
        title_key,
        country_key
    from origin_countries

),

title_country_decades as (

    select
        countries.country_key,
        countries.country_code,
        countries.country_name,
        countries.region,
        dates.decade_start_year,
        titles.title_type,
        titles.title_key
    from title_countries
    inner join titles
        on title_countries.title_key = titles.title_key
    inner join countries
        on title_countries.country_key = countries.country_key
    inner join dates
        on titles.release_date_key = dates.date_key

),

aggregated as (

    select
        country_key,
        country_code,
        country_name,
        region,
        decade_start_year,
        count(distinct title_key) as title_count,
        count(distinct case when title_type = 'movie' then title_key end) as movie_count,
        count(distinct case when title_type = 'series' then title_key end) as series_count
    from title_country_decades
    group by country_key, country_code, country_name, region, decade_start_year

),

final as (

    select
        {{ surrogate_key(['country_key', 'decade_start_year']) }} as country_decade_key,
        country_key,
        country_code,
        country_name,
        region,
        decade_start_year,
        cast(title_count as {{ dbt.type_bigint() }}) as title_count,
        cast(movie_count as {{ dbt.type_bigint() }}) as movie_count,
        cast(series_count as {{ dbt.type_bigint() }}) as series_count
    from aggregated

)

select * from final
