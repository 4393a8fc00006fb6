{#- A view: the snapshot already stores every version; copying it into a table again on every build cost
    1-3 s at full size for a rename. -#}
{{ config(materialized='view') }}

with snapshot as (

    select * from {{ ref('snap_title_attributes') }}

),

final as (

    select
        dbt_scd_id as title_version_key,
        title_key,
        title_type,
        tmdb_id,
        status,
        popularity,
        vote_count,
        vote_average,
        number_of_seasons,
        number_of_episodes,
        is_in_production,
        batch_id,
        cast(dbt_valid_from as timestamp) as valid_from,
        cast(dbt_valid_to as timestamp) as valid_to,
        dbt_valid_to is null as is_current
    from snapshot

)

select * from final
