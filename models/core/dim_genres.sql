with title_genres as (

    select * from {{ ref('int_title_genres_unnested') }}

),

known_genres as (

    -- TMDB may name one genre id differently across documents: the most frequent name wins
    {{ most_frequent_description('title_genres', 'genre_id', 'genre_name') }}

),

unknown_member as (

    select
        cast(null as {{ dbt.type_bigint() }}) as genre_id,
        'Unknown' as genre_name

),

members as (

    select * from known_genres
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['genre_id']) }} as genre_key,
        *,
        genre_id is null as is_unknown_member
    from members

)

select * from final
