{{ assert_landing_zone_has('series') }}

with source as (

    select * from {{ source('tmdb_landing', 'series') }}
    {% if is_incremental() %}
        -- hive partition filter: DuckDB skips the files of batches already loaded
        where batch > '{{ newest_loaded_batch(this) }}'
    {% endif %}

),

loaded as (

    select
        batch || '/' || source_file as raw_record_key,
        batch as batch_id,
        source_file,
        file_sha256,
        {{ json_get_bigint('doc', 'id') }} as tmdb_id,
        doc,
        current_timestamp as loaded_at
    from source

)

select * from loaded
