-- Every staged movie and series is a row of the title fact: a staged id missing from fct_titles is
-- a title the core silently lost. Returns the lost titles.
with staged_titles as (

    select
        'movie' as title_type,
        movie_id as tmdb_id
    from {{ ref('stg_tmdb__movies') }}
    union all
    select
        'series' as title_type,
        series_id as tmdb_id
    from {{ ref('stg_tmdb__series') }}

),

core_titles as (

    select
        dim_titles.title_type,
        dim_titles.tmdb_id
    from {{ ref('fct_titles') }} as fct_titles
    inner join {{ ref('dim_titles') }} as dim_titles
        on fct_titles.title_key = dim_titles.title_key

)

select staged_titles.*
from staged_titles
left join core_titles
    on
        staged_titles.title_type = core_titles.title_type
        and staged_titles.tmdb_id = core_titles.tmdb_id
where core_titles.tmdb_id is null
