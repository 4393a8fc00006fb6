-- Which genres return the most on their budgets since 2000? Pooled ROI (total profit over total
-- budget) per genre, over the movies whose budget and revenue are both known, for genres with at
-- least 20 such movies.
with genre_years as (

    select * from {{ ref('mart_finance__genre_year_financials') }}

),

since_2000 as (

    select
        genre_name,
        sum(movie_count) as movie_count,
        sum(total_budget_usd) as total_budget_usd,
        sum(total_profit_usd) as total_profit_usd
    from genre_years
    where release_year >= 2000
    group by genre_name

)

select
    genre_name,
    movie_count,
    total_budget_usd,
    total_profit_usd,
    round(total_profit_usd * 1.0 / total_budget_usd, 2) as pooled_roi
from since_2000
where movie_count >= 20
order by pooled_roi desc
