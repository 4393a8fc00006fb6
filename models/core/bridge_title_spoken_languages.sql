with title_spoken_languages as (

    {{ batches_since_last_run(ref('int_title_spoken_languages_unnested')) }}

),

final as (

    select
        title_spoken_language_key,
        title_key,
        {{ surrogate_key(['language_code']) }} as language_key,
        language_position,
        batch_id
    from title_spoken_languages

)

select * from final
