with series_networks as (

    select * from {{ ref('int_series_networks_unnested') }}

),

known_networks as (

    {{ most_frequent_description(
        'series_networks', 'network_id', 'network_name', ['origin_country_code', 'logo_path']
    ) }}

),

unknown_member as (

    select
        cast(null as {{ dbt.type_bigint() }}) as network_id,
        'Unknown' as network_name,
        cast(null as {{ dbt.type_string() }}) as origin_country_code,
        cast(null as {{ dbt.type_string() }}) as logo_path

),

members as (

    select * from known_networks
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['network_id']) }} as network_key,
        network_id,
        network_name,
        origin_country_code,
        {{ surrogate_key(['origin_country_code']) }} as origin_country_key,
        logo_path,
        network_id is null as is_unknown_member
    from members

)

select * from final
