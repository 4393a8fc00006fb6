{#- m: the minimum number of votes a title needs to be ranked (docs block bayesian_rating). -#}
{%- set min_votes = var('top_titles_min_votes', 100) -%}

with titles as (

    select * from {{ ref('fct_titles') }}

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

genre_lists as (

    select
        title_genres.title_key,
        {{ sorted_names('genres.genre_name') }} as genre_names
    from title_genres
    inner join genres
        on title_genres.genre_key = genres.genre_key
    group by title_genres.title_key

),

type_means as (

    -- C: the mean rating of all rated titles of a type
    select
        title_type,
        {{ exact_avg('vote_average') }} as mean_vote_average
    from titles
    where vote_average is not null
    group by title_type

),

eligible as (

    select
        titles.title_key,
        titles.title_type,
        title_names.tmdb_id,
        title_names.title,
        dates.year_number as release_year,
        genre_lists.genre_names,
        titles.vote_count,
        titles.vote_average,
        type_means.mean_vote_average,
        cast({{ min_votes }} as {{ dbt.type_bigint() }}) as min_votes
    from titles
    inner join type_means
        on titles.title_type = type_means.title_type
    inner join title_names
        on titles.title_key = title_names.title_key
    inner join dates
        on titles.release_date_key = dates.date_key
    left join genre_lists
        on titles.title_key = genre_lists.title_key
    where
        titles.vote_average is not null
        and titles.vote_count >= {{ min_votes }}

),

rated as (

    select
        *,
        cast(vote_count as double) / (vote_count + min_votes) * vote_average
        + cast(min_votes as double) / (vote_count + min_votes) * mean_vote_average as bayesian_rating
    from eligible

),

ranked as (

    select
        title_key,
        title_type,
        tmdb_id,
        title,
        release_year,
        genre_names,
        vote_count,
        vote_average,
        bayesian_rating,
        cast(
            row_number() over (
                partition by title_type order by bayesian_rating desc, vote_count desc, title_key asc
            ) as {{ dbt.type_bigint() }}
        ) as rating_rank,
        mean_vote_average,
        min_votes
    from rated

)

select * from ranked
