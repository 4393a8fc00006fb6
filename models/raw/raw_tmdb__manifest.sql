{{ assert_landing_zone_has('manifest') }}

with source as (

    select * from {{ source('tmdb_landing', 'manifest') }}
    {% if is_incremental() %}
        where batch > '{{ newest_loaded_batch(this) }}'
    {% endif %}

),

loaded as (

    select
        batch || '/' || source_file as raw_record_key,
        batch as batch_id,
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

select * from loaded
