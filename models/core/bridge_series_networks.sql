with series_networks as (

    {{ batches_since_last_run(ref('int_series_networks_unnested')) }}

),

final as (

    select
        series_network_key,
        title_key,
        {{ surrogate_key(['network_id']) }} as network_key,
        network_position,
        batch_id
    from series_networks

)

select * from final
