with title_origin_countries as (

    {{ batches_since_last_run(ref('int_title_origin_countries_unnested')) }}

),

final as (

    select
        title_origin_country_key,
        title_key,
        {{ surrogate_key(['country_code']) }} as country_key,
        country_position,
        batch_id
    from title_origin_countries

)

select * from final
