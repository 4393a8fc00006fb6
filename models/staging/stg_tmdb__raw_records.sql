with raw_movies as (

    select * from {{ ref('raw_tmdb__movies') }}

),

raw_series as (

    select * from {{ ref('raw_tmdb__series') }}

),

unioned as (

    -- the identity of every raw record (never its document), for load reconciliation
    select
        raw_record_key,
        'movies' as entity,
        batch_id,
        source_file,
        tmdb_id
    from raw_movies
    union all
    select
        raw_record_key,
        'series' as entity,
        batch_id,
        source_file,
        tmdb_id
    from raw_series

),

keyed as (

    select
        {{ surrogate_key(['entity', 'raw_record_key']) }} as raw_record_id,
        *
    from unioned

)

select * from keyed
