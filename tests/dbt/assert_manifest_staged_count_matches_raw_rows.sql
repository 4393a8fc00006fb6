-- Per batch and entity, the files the staging manifest lists as staged are exactly the rows the raw
-- layer loaded from that batch. Returns the batches where they differ.
with manifest_counts as (

    select
        batch_id,
        entity,
        count(*) as files_staged
    from {{ ref('raw_tmdb__manifest') }}
    where status = 'staged'
    group by batch_id, entity

),

raw_counts as (

    select
        batch_id,
        'movies' as entity,
        count(*) as raw_rows
    from {{ ref('raw_tmdb__movies') }}
    group by batch_id
    union all
    select
        batch_id,
        'series' as entity,
        count(*) as raw_rows
    from {{ ref('raw_tmdb__series') }}
    group by batch_id

)

select
    coalesce(manifest_counts.batch_id, raw_counts.batch_id) as batch_id,
    coalesce(manifest_counts.entity, raw_counts.entity) as entity,
    coalesce(manifest_counts.files_staged, 0) as files_staged,
    coalesce(raw_counts.raw_rows, 0) as raw_rows
from manifest_counts
full outer join raw_counts
    on
        manifest_counts.batch_id = raw_counts.batch_id
        and manifest_counts.entity = raw_counts.entity
where coalesce(manifest_counts.files_staged, 0) != coalesce(raw_counts.raw_rows, 0)
