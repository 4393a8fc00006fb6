with title_genres as (

    {{ batches_since_last_run(ref('int_title_genres_unnested')) }}

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
