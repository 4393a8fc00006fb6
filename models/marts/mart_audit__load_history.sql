with manifest as (

    select * from {{ ref('stg_tmdb__manifest') }}

),

raw_records as (

    select * from {{ ref('stg_tmdb__raw_records') }}

),

manifest_counts as (

    select
        batch_id,
        entity,
        min(staged_at) as staged_at,
        count(*) as files_seen,
        sum(case when load_status = 'staged' then 1 else 0 end) as files_staged,
        sum(case when load_status = 'quarantined' then 1 else 0 end) as files_quarantined
    from manifest
    group by batch_id, entity

),

first_batches as (

    -- the batch in which each id was first loaded
    select
        entity,
        tmdb_id,
        min(batch_id) as first_batch_id
    from raw_records
    group by entity, tmdb_id

),

batch_records as (

    -- an id is new in the batch that first loaded it, updated in any later one
    select
        raw_records.batch_id,
        raw_records.entity,
        raw_records.tmdb_id,
        first_batches.first_batch_id = raw_records.batch_id as is_new_title
    from raw_records
    inner join first_batches
        on
            raw_records.entity = first_batches.entity
            and raw_records.tmdb_id = first_batches.tmdb_id

),

raw_counts as (

    select
        batch_id,
        entity,
        count(*) as raw_rows,
        count(distinct case when is_new_title then tmdb_id end) as new_titles,
        count(distinct case when not is_new_title then tmdb_id end) as updated_titles
    from batch_records
    group by batch_id, entity

),

final as (

    select
        {{ surrogate_key(['manifest_counts.batch_id', 'manifest_counts.entity']) }} as load_history_key,
        manifest_counts.batch_id,
        manifest_counts.entity,
        manifest_counts.staged_at,
        cast(manifest_counts.files_seen as {{ dbt.type_bigint() }}) as files_seen,
        cast(manifest_counts.files_staged as {{ dbt.type_bigint() }}) as files_staged,
        cast(manifest_counts.files_quarantined as {{ dbt.type_bigint() }}) as files_quarantined,
        cast(coalesce(raw_counts.raw_rows, 0) as {{ dbt.type_bigint() }}) as raw_rows,
        cast(coalesce(raw_counts.new_titles, 0) as {{ dbt.type_bigint() }}) as new_titles,
        cast(coalesce(raw_counts.updated_titles, 0) as {{ dbt.type_bigint() }}) as updated_titles
    from manifest_counts
    left join raw_counts
        on
            manifest_counts.batch_id = raw_counts.batch_id
            and manifest_counts.entity = raw_counts.entity

)

select * from final
