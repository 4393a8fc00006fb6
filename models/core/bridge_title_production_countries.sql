{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

with title_production_countries as (

    select * from {{ ref('int_title_production_countries_unnested') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

final as (

    select
        title_production_country_key,
        title_key,
        {{ surrogate_key(['country_code']) }} as country_key,
        country_position,
        batch_id
    from title_production_countries

)

select * from final
