with source as (

    {{ landing_batches('manifest') }}

),

final as (

    select
        raw_record_key,
        batch_id,
        source_file,
        entity,
        size_bytes,
        mtime_ns,
        sha256,
        status,
        reason,
        detail,
        tmdb_id,
        staged_at,
        current_timestamp as loaded_at
    from source

)

select * from final
