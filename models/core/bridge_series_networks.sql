with series_networks as (

    select * from {{ ref('int_series_networks_unnested') }}

),

final as (

    select
        series_network_key,
        title_key,
        {{ surrogate_key(['network_id']) }} as network_key,
        network_position
    from series_networks

)

select * from final
