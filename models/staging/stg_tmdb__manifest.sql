with source as (

    select * from {{ ref('raw_tmdb__manifest') }}

),

renamed as (

    select
        raw_record_key as manifest_record_key,
        batch_id,
        source_file,
        entity,
        status as load_status,
        reason as quarantine_reason,
        detail as quarantine_detail,
        tmdb_id,
        size_bytes as file_size_in_bytes,
        mtime_ns as file_mtime_ns,
        sha256 as file_sha256,
        staged_at,
        loaded_at
    from source

)

select * from renamed
