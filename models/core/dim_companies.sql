with title_companies as (

    select * from {{ ref('int_title_companies_unnested') }}

),

attribute_counts as (

    select
        company_id,
        company_name,
        origin_country_code,
        logo_path,
        count(*) as occurrences
    from title_companies
    where company_id is not null
    group by company_id, company_name, origin_country_code, logo_path

),

ranked_attributes as (

    -- one company id may be described differently across documents: the most frequent description wins
    select
        *,
        row_number() over (
            partition by company_id
            order by
                case when company_name is null then 1 else 0 end asc,
                occurrences desc,
                company_name asc,
                origin_country_code asc,
                logo_path asc
        ) as attribute_rank
    from attribute_counts

),

known_companies as (

    select
        company_id,
        coalesce(company_name, 'Unknown') as company_name,
        origin_country_code,
        logo_path
    from ranked_attributes
    where attribute_rank = 1

),

unknown_member as (

    select
        cast(null as {{ dbt.type_bigint() }}) as company_id,
        'Unknown' as company_name,
        cast(null as {{ dbt.type_string() }}) as origin_country_code,
        cast(null as {{ dbt.type_string() }}) as logo_path

),

members as (

    select * from known_companies
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['company_id']) }} as company_key,
        company_id,
        company_name,
        origin_country_code,
        {{ surrogate_key(['origin_country_code']) }} as origin_country_key,
        logo_path,
        company_id is null as is_unknown_member
    from members

)

select * from final
