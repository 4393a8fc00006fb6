with series_creators as (

    select * from {{ ref('int_series_creators_unnested') }}

),

final as (

    select
        series_creator_key,
        title_key,
        {{ surrogate_key(['person_id']) }} as person_key,
        credit_id,
        creator_position
    from series_creators

)

select * from final
