with iso_countries as (

    select * from {{ ref('iso_3166_1_countries') }}

),

codes_in_data as (

    select country_code from {{ ref('int_title_production_countries_unnested') }}
    union
    select country_code from {{ ref('int_title_origin_countries_unnested') }}
    union
    select origin_country_code as country_code from {{ ref('int_title_companies_unnested') }}
    union
    select origin_country_code as country_code from {{ ref('int_series_networks_unnested') }}

),

all_codes as (

    -- every ISO country, plus any code the data uses that the ISO list lacks (e.g. the historic 'SU')
    select country_code from iso_countries
    union
    select country_code from codes_in_data
    where country_code is not null

),

known_countries as (

    select
        all_codes.country_code,
        coalesce(iso_countries.country_name, 'Unknown') as country_name,
        coalesce(iso_countries.region, 'Unknown') as region,
        coalesce(iso_countries.subregion, 'Unknown') as subregion,
        iso_countries.country_code is not null as is_iso_3166_1
    from all_codes
    left join iso_countries
        on all_codes.country_code = iso_countries.country_code

),

unknown_member as (

    select
        cast(null as {{ dbt.type_string() }}) as country_code,
        'Unknown' as country_name,
        'Unknown' as region,
        'Unknown' as subregion,
        false as is_iso_3166_1

),

members as (

    select * from known_countries
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['country_code']) }} as country_key,
        *,
        country_code is null as is_unknown_member
    from members

)

select * from final
