with titles as (

    select * from {{ ref('int_titles_unioned') }}

),

known_collections as (

    -- the most frequent name of a collection id wins
    {{ most_frequent_description('titles', 'collection_id', 'collection_name') }}

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
