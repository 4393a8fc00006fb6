with titles as (

    select * from {{ ref('fct_titles') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

title_years as (

    select
        titles.title_type,
        dates.year_number as release_year,
        dates.decade_start_year,
        titles.vote_count,
        titles.vote_average
    from titles
    inner join dates
        on titles.release_date_key = dates.date_key

),

aggregated as (

    select
        title_type,
        release_year,
        decade_start_year,
        count(*) as title_count,
        count(vote_average) as rated_title_count,
        sum(case when vote_average is not null then vote_count else 0 end) as rating_vote_count,
        {{ exact_sum('vote_average * vote_count') }}
        / nullif(sum(case when vote_average is not null then vote_count end), 0) as vote_weighted_average
    from title_years
    group by title_type, release_year, decade_start_year

),

final as (

    select
        {{ surrogate_key(['title_type', 'release_year']) }} as title_year_key,
        title_type,
        release_year,
        decade_start_year,
        cast(title_count as {{ dbt.type_bigint() }}) as title_count,
        cast(rated_title_count as {{ dbt.type_bigint() }}) as rated_title_count,
        cast(rating_vote_count as {{ dbt.type_bigint() }}) as rating_vote_count,
        vote_weighted_average
    from aggregated

)

select * from final
