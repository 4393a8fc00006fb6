with title_genres as (

    select * from {{ ref('int_title_genres_unnested') }}

),

final as (

    select
        title_genre_key,
        title_key,
        {{ surrogate_key(['genre_id']) }} as genre_key,
        genre_position
    from title_genres

)

select * from final
