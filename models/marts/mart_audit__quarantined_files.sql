with manifest as (

    select * from {{ ref('stg_tmdb__manifest') }}

),

quarantined as (

    select
        manifest_record_key,
        batch_id,
        entity,
        source_file,
        quarantine_reason,
        quarantine_detail,
        tmdb_id,
        file_size_in_bytes,
        file_sha256,
        -- where the staging run kept a copy of the file's bytes, relative to the landing zone
        {{ dbt.concat(["'batch='", 'batch_id', "'/quarantine/'", 'file_sha256', "'.bin'"]) }}
            as quarantine_copy_path,
        staged_at as quarantined_at
    from manifest
    where load_status = 'quarantined'

)

select * from quarantined
