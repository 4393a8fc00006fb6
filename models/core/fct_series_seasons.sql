with seasons as (

    {{ batches_since_last_run(ref('int_series_seasons_unnested')) }}

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
