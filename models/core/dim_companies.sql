with title_companies as (

    select * from {{ ref('int_title_companies_unnested') }}

),

known_companies as (

    {{ most_frequent_description(
        'title_companies', 'company_id', 'company_name', ['origin_country_code', 'logo_path']
    ) }}

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
