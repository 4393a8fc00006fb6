with series_networks as (

    select * from {{ ref('int_series_networks_unnested') }}

),

attribute_counts as (

    select
        network_id,
        network_name,
        origin_country_code,
        logo_path,
        count(*) as occurrences
    from series_networks
    where network_id is not null
    group by network_id, network_name, origin_country_code, logo_path

),

ranked_attributes as (

    -- one network id may be described differently across documents: the most frequent description wins
    select
        *,
        row_number() over (
            partition by network_id
            order by
                case when network_name is null then 1 else 0 end asc,
                occurrences desc,
                network_name asc,
                origin_country_code asc,
                logo_path asc
        ) as attribute_rank
    from attribute_counts

),

known_networks as (

    select
        network_id,
        coalesce(network_name, 'Unknown') as network_name,
        origin_country_code,
        logo_path
    from ranked_attributes
    where attribute_rank = 1

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
