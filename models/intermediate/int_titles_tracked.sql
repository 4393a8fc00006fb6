{{ config(materialized='view') }}

with titles as (

    select * from {{ ref('int_titles_unioned') }}

),

tracked as (

    -- the attributes that change between versions of the dataset, for the snapshot
    select
        title_key,
        title_type,
        tmdb_id,
        status,
        popularity,
        vote_count,
        vote_average,
        number_of_seasons,
        number_of_episodes,
        is_in_production,
        batch_id
    from titles

)

select * from tracked
