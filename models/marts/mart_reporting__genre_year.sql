with titles as (

    select * from {{ ref('fct_titles') }}

),

title_genres as (

    select * from {{ ref('bridge_title_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

title_genre_years as (

    select
        genres.genre_key,
        genres.genre_name,
        dates.year_number as release_year,
        titles.title_type,
        titles.vote_average,
        titles.vote_count,
        titles.revenue_usd
    from title_genres
    inner join titles
        on title_genres.title_key = titles.title_key
    inner join genres
        on title_genres.genre_key = genres.genre_key
    inner join dates
        on titles.release_date_key = dates.date_key

),

aggregated as (

    select
        genre_key,
        genre_name,
        release_year,
        count(*) as title_count,
        sum(case when title_type = 'movie' then 1 else 0 end) as movie_count,
        sum(case when title_type = 'series' then 1 else 0 end) as series_count,
        count(vote_average) as rated_title_count,
        {{ exact_avg('vote_average') }} as mean_vote_average,
        {{ exact_sum('vote_average * vote_count') }}
        / nullif(sum(case when vote_average is not null then vote_count end), 0) as vote_weighted_average,
        sum(case when vote_average is not null then vote_count else 0 end) as rating_vote_count,
        -- the same rating per title type, so that a reader filtering on movies or series gets theirs
        {{ exact_sum("case when title_type = 'movie' then vote_average * vote_count end") }}
        / nullif(sum(case when title_type = 'movie' and vote_average is not null then vote_count end), 0)
            as movie_vote_weighted_average,
        sum(case when title_type = 'movie' and vote_average is not null then vote_count else 0 end)
            as movie_rating_vote_count,
        {{ exact_sum("case when title_type = 'series' then vote_average * vote_count end") }}
        / nullif(sum(case when title_type = 'series' and vote_average is not null then vote_count end), 0)
            as series_vote_weighted_average,
        sum(case when title_type = 'series' and vote_average is not null then vote_count else 0 end)
            as series_rating_vote_count,
        count(revenue_usd) as movies_with_revenue_count,
        sum(revenue_usd) as total_revenue_usd
    from title_genre_years
    group by genre_key, genre_name, release_year

),

final as (

    select
        {{ surrogate_key(['genre_key', 'release_year']) }} as genre_year_key,
        genre_key,
        genre_name,
        release_year,
        cast(title_count as {{ dbt.type_bigint() }}) as title_count,
        cast(movie_count as {{ dbt.type_bigint() }}) as movie_count,
        cast(series_count as {{ dbt.type_bigint() }}) as series_count,
        cast(rated_title_count as {{ dbt.type_bigint() }}) as rated_title_count,
        mean_vote_average,
        vote_weighted_average,
        cast(rating_vote_count as {{ dbt.type_bigint() }}) as rating_vote_count,
        movie_vote_weighted_average,
        cast(movie_rating_vote_count as {{ dbt.type_bigint() }}) as movie_rating_vote_count,
        series_vote_weighted_average,
        cast(series_rating_vote_count as {{ dbt.type_bigint() }}) as series_rating_vote_count,
        cast(movies_with_revenue_count as {{ dbt.type_bigint() }}) as movies_with_revenue_count,
        cast(total_revenue_usd as {{ dbt.type_bigint() }}) as total_revenue_usd
    from aggregated

)

select * from final
