with movie_financials as (

    select * from {{ ref('mart_finance__movie_financials') }}

),

title_genres as (

    select * from {{ ref('bridge_title_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

known_financials as (

    -- a movie counts in each of its genres
    select
        genres.genre_key,
        genres.genre_name,
        movie_financials.release_year,
        movie_financials.budget_usd,
        movie_financials.revenue_usd,
        movie_financials.profit_usd,
        movie_financials.roi
    from movie_financials
    inner join title_genres
        on movie_financials.title_key = title_genres.title_key
    inner join genres
        on title_genres.genre_key = genres.genre_key
    where movie_financials.has_known_financials

),

aggregated as (

    select
        genre_key,
        genre_name,
        release_year,
        count(*) as movie_count,
        sum(budget_usd) as total_budget_usd,
        sum(revenue_usd) as total_revenue_usd,
        sum(profit_usd) as total_profit_usd,
        {{ exact_avg('roi') }} as mean_roi,
        median(roi) as median_roi
    from known_financials
    group by genre_key, genre_name, release_year

),

final as (

    select
        {{ surrogate_key(['genre_key', 'release_year']) }} as genre_year_key,
        genre_key,
        genre_name,
        release_year,
        cast(movie_count as {{ dbt.type_bigint() }}) as movie_count,
        cast(total_budget_usd as {{ dbt.type_bigint() }}) as total_budget_usd,
        cast(total_revenue_usd as {{ dbt.type_bigint() }}) as total_revenue_usd,
        cast(total_profit_usd as {{ dbt.type_bigint() }}) as total_profit_usd,
        -- the genre-year's money as one investment
        cast(total_profit_usd as double) / total_budget_usd as pooled_roi,
        mean_roi,
        median_roi
    from aggregated

)

select * from final
