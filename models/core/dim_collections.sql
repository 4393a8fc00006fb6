with titles as (

    select * from {{ ref('int_titles_unioned') }}

),

name_counts as (

    select
        collection_id,
        collection_name,
        count(*) as occurrences
    from titles
    where collection_id is not null
    group by collection_id, collection_name

),

ranked_names as (

    -- the most frequent name of a collection id wins
    select
        *,
        row_number() over (
            partition by collection_id
            order by
                case when collection_name is null then 1 else 0 end asc,
                occurrences desc,
                collection_name asc
        ) as name_rank
    from name_counts

),

known_collections as (

    select
        collection_id,
        coalesce(collection_name, 'Unknown') as collection_name
    from ranked_names
    where name_rank = 1

),

unknown_member as (

    select
        cast(null as {{ dbt.type_bigint() }}) as collection_id,
        'Unknown' as collection_name

),

members as (

    select * from known_collections
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['collection_id']) }} as collection_key,
        *,
        collection_id is null as is_unknown_member
    from members

)

select * from final
