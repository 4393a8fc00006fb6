with title_genres as (

    select * from {{ ref('int_title_genres_unnested') }}

),

name_counts as (

    select
        genre_id,
        genre_name,
        count(*) as occurrences
    from title_genres
    where genre_id is not null
    group by genre_id, genre_name

),

ranked_names as (

    -- TMDB may name one genre id differently across documents: the most frequent name wins
    select
        *,
        row_number() over (
            partition by genre_id
            order by
                case when genre_name is null then 1 else 0 end asc,
                occurrences desc,
                genre_name asc
        ) as name_rank
    from name_counts

),

known_genres as (

    select
        genre_id,
        coalesce(genre_name, 'Unknown') as genre_name
    from ranked_names
    where name_rank = 1

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
