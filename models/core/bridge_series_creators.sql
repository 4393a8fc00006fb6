{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

with series_creators as (

    select * from {{ ref('int_series_creators_unnested') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

final as (

    select
        series_creator_key,
        title_key,
        {{ surrogate_key(['person_id']) }} as person_key,
        credit_id,
        creator_position,
        batch_id
    from series_creators

)

select * from final
