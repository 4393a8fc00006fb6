-- Per entity, the counts agree from raw to core: distinct raw ids = staging rows = core titles, and
-- raw rows = staging rows + duplicates removed (deduplication drops nothing it does not count).
-- Returns the entities whose counts disagree.
with raw_counts as (

    select
        'movie' as title_type,
        count(*) as raw_rows,
        count(distinct tmdb_id) as distinct_raw_ids
    from {{ ref('raw_tmdb__movies') }}
    union all
    select
        'series' as title_type,
        count(*) as raw_rows,
        count(distinct tmdb_id) as distinct_raw_ids
    from {{ ref('raw_tmdb__series') }}

),

staging_counts as (

    select
        'movie' as title_type,
        count(*) as staging_rows,
        coalesce(sum(duplicates_removed), 0) as duplicates_removed
    from {{ ref('stg_tmdb__movies') }}
    union all
    select
        'series' as title_type,
        count(*) as staging_rows,
        coalesce(sum(duplicates_removed), 0) as duplicates_removed
    from {{ ref('stg_tmdb__series') }}

),

entity_types as (

    select 'movie' as title_type
    union all
    select 'series' as title_type

),

core_counts as (

    select
        entity_types.title_type,
        count(fct_titles.title_key) as core_titles
    from entity_types
    left join {{ ref('fct_titles') }} as fct_titles
        on entity_types.title_type = fct_titles.title_type
    group by entity_types.title_type

),

compared as (

    select
        raw_counts.title_type,
        raw_counts.raw_rows,
        raw_counts.distinct_raw_ids,
        staging_counts.staging_rows,
        staging_counts.duplicates_removed,
        core_counts.core_titles
    from raw_counts
    inner join staging_counts
        on raw_counts.title_type = staging_counts.title_type
    inner join core_counts
        on raw_counts.title_type = core_counts.title_type

)

select *
from compared
where
    distinct_raw_ids != staging_rows
    or staging_rows != core_titles
    or raw_rows != staging_rows + duplicates_removed
