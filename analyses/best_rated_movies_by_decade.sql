-- The five best-rated movies of each decade, by the Bayesian rating of the top-titles mart (a movie
-- needs at least m votes to be ranked, so a handful of enthusiastic votes cannot win).
with top_titles as (

    select * from {{ ref('mart_reporting__top_titles') }}

),

ranked_by_decade as (

    select
        cast(floor(release_year / 10) * 10 as integer) as decade_start_year,
        title,
        release_year,
        vote_count,
        vote_average,
        bayesian_rating,
        row_number() over (
            partition by floor(release_year / 10) order by bayesian_rating desc, vote_count desc
        ) as rank_in_decade
    from top_titles
    where
        title_type = 'movie'
        and release_year is not null

)

select *
from ranked_by_decade
where rank_in_decade <= 5
order by decade_start_year asc, rank_in_decade asc
