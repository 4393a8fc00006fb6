with title_companies as (

    select * from {{ ref('int_title_companies_unnested') }}

),

final as (

    select
        title_company_key,
        title_key,
        {{ surrogate_key(['company_id']) }} as company_key,
        company_position
    from title_companies

)

select * from final
