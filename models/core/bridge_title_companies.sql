with title_companies as (

    {{ batches_since_last_run(ref('int_title_companies_unnested')) }}

),

final as (

    select
        title_company_key,
        title_key,
        {{ surrogate_key(['company_id']) }} as company_key,
        company_position,
        batch_id
    from title_companies

)

select * from final
