with series_creators as (

    {{ batches_since_last_run(ref('int_series_creators_unnested')) }}

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
