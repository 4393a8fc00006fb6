with titles as (

    {{ batches_since_last_run(ref('int_titles_unioned')) }}

),

final as (

    select
        title_key,
        title_type,
        {{ surrogate_key(['release_date']) }} as release_date_key,
        {{ surrogate_key(['last_air_date']) }} as last_air_date_key,
        {{ surrogate_key(['original_language_code']) }} as original_language_key,
        {{ surrogate_key(['collection_id']) }} as collection_key,
        popularity,
        vote_count,
        vote_average,
        budget_usd,
        revenue_usd,
        runtime_minutes,
        number_of_seasons,
        number_of_episodes,
        batch_id
    from titles

)

select * from final
