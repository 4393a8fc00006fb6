with manifest as (

    select * from {{ ref('stg_tmdb__manifest') }}

),

raw_records as (

    select * from {{ ref('stg_tmdb__raw_records') }}

),

staged_movies as (

    select * from {{ ref('stg_tmdb__movies') }}

),

staged_series as (

    select * from {{ ref('stg_tmdb__series') }}

),

titles as (

    select * from {{ ref('fct_titles') }}

),

entities as (

    select
        'movies' as entity,
        'movie' as title_type
    union all
    select
        'series' as entity,
        'series' as title_type

),

manifest_counts as (

    select
        entity,
        count(*) as files_seen,
        sum(case when load_status = 'staged' then 1 else 0 end) as files_staged,
        sum(case when load_status = 'quarantined' then 1 else 0 end) as files_quarantined
    from manifest
    group by entity

),

raw_counts as (

    select
        entity,
        count(*) as raw_rows,
        count(distinct tmdb_id) as distinct_raw_ids
    from raw_records
    group by entity

),

staging_counts as (

    select
        'movies' as entity,
        count(*) as staging_rows,
        sum(duplicates_removed) as duplicates_removed
    from staged_movies
    union all
    select
        'series' as entity,
        count(*) as staging_rows,
        sum(duplicates_removed) as duplicates_removed
    from staged_series

),

core_counts as (

    select
        title_type,
        count(*) as core_titles
    from titles
    group by title_type

),

joined as (

    select
        entities.entity,
        coalesce(manifest_counts.files_seen, 0) as files_seen,
        coalesce(manifest_counts.files_staged, 0) as files_staged,
        coalesce(manifest_counts.files_quarantined, 0) as files_quarantined,
        coalesce(raw_counts.raw_rows, 0) as raw_rows,
        coalesce(raw_counts.distinct_raw_ids, 0) as distinct_raw_ids,
        coalesce(staging_counts.duplicates_removed, 0) as duplicates_removed,
        coalesce(staging_counts.staging_rows, 0) as staging_rows,
        coalesce(core_counts.core_titles, 0) as core_titles
    from entities
    left join manifest_counts
        on entities.entity = manifest_counts.entity
    left join raw_counts
        on entities.entity = raw_counts.entity
    left join staging_counts
        on entities.entity = staging_counts.entity
    left join core_counts
        on entities.title_type = core_counts.title_type

),

final as (

    select
        entity,
        cast(files_seen as {{ dbt.type_bigint() }}) as files_seen,
        cast(files_staged as {{ dbt.type_bigint() }}) as files_staged,
        cast(files_quarantined as {{ dbt.type_bigint() }}) as files_quarantined,
        cast(raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(distinct_raw_ids as {{ dbt.type_bigint() }}) as distinct_raw_ids,
        cast(duplicates_removed as {{ dbt.type_bigint() }}) as duplicates_removed,
        cast(staging_rows as {{ dbt.type_bigint() }}) as staging_rows,
        cast(core_titles as {{ dbt.type_bigint() }}) as core_titles,
        -- every staged file is a raw row, every raw row is staged or a removed duplicate, every
        -- distinct id is one staged row and one core title
        files_staged = raw_rows
        and raw_rows = staging_rows + duplicates_removed
        and distinct_raw_ids = staging_rows
        and staging_rows = core_titles as is_reconciled
    from joined

)

select * from final
