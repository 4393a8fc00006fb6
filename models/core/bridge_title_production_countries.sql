with title_production_countries as (

    {{ batches_since_last_run(ref('int_title_production_countries_unnested')) }}

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
