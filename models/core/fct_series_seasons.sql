{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

with seasons as (

    select * from {{ ref('int_series_seasons_unnested') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

final as (

    select
        series_season_key,
        title_key,
        {{ surrogate_key(['air_date']) }} as air_date_key,
        season_position,
        season_id,
        season_number,
        season_name,
        episode_count,
        batch_id
    from seasons

)

select * from final
