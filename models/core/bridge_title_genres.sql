{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

with title_genres as (

    select * from {{ ref('int_title_genres_unnested') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

final as (

    select
        title_genre_key,
        title_key,
        {{ surrogate_key(['genre_id']) }} as genre_key,
        genre_position,
        batch_id
    from title_genres

)

select * from final
