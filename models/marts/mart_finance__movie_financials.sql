with titles as (

    select * from {{ ref('fct_titles') }}

),

title_names as (

    select * from {{ ref('dim_titles') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

movies as (

    select
        titles.title_key,
        title_names.tmdb_id,
        title_names.title,
        dates.year_number as release_year,
        titles.budget_usd,
        titles.revenue_usd
    from titles
    inner join title_names
        on titles.title_key = title_names.title_key
    inner join dates
        on titles.release_date_key = dates.date_key
    where titles.title_type = 'movie'

),

final as (

    select
        *,
        budget_usd is not null and revenue_usd is not null as has_known_financials,
        -- profit and ROI only where both are known: TMDB's 0 means unknown, not free or a flop
        case
            when budget_usd is not null and revenue_usd is not null then revenue_usd - budget_usd
        end as profit_usd,
        case
            when budget_usd is not null and revenue_usd is not null
                then cast(revenue_usd - budget_usd as double) / budget_usd
        end as roi
    from movies

)

select * from final
