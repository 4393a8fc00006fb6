with source as (

    {{ landing_batches('series') }}

),

final as (

    select
        raw_record_key,
        batch_id,
        source_file,
        file_sha256,
        {{ json_get_bigint('doc', 'id') }} as tmdb_id,
        doc,
        current_timestamp as loaded_at
    from source

)

select * from final
