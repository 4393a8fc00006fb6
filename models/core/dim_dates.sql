with titles as (

    select * from {{ ref('int_titles_unioned') }}

),

seasons as (

    select * from {{ ref('int_series_seasons_unnested') }}

),

dates_in_data as (

    select release_date as date_day from titles
    union all
    select last_air_date as date_day from titles
    union all
    select air_date as date_day from seasons

),

bounds as (

    -- whole calendar years around every date in the data
    select
        cast({{ dbt.date_trunc('year', 'min(date_day)') }} as date) as first_day,
        {%- set first_day_after = dbt.dateadd('year', 1, dbt.date_trunc('year', 'max(date_day)')) %}
        cast({{ dbt.dateadd('day', -1, first_day_after) }} as date) as last_day
    from dates_in_data
    having count(date_day) > 0

),

spine as (

    {{ calendar_spine('bounds', 'first_day', 'last_day') }}

),

calendar as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        {{ month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        {{ iso_day_of_week('date_day') }} as iso_day_of_week,
        {{ day_name('date_day') }} as day_name,
        {{ iso_week_of_year('date_day') }} as iso_week_of_year,
        cast(floor(extract(year from date_day) / 10) * 10 as integer) as decade_start_year,
        {{ iso_day_of_week('date_day') }} >= 6 as is_weekend
    from spine

),

unknown_member as (

    select
        cast(null as date) as date_day,
        cast(null as integer) as year_number,
        cast(null as integer) as quarter_number,
        cast(null as integer) as month_number,
        'Unknown' as month_name,
        cast(null as integer) as day_of_month,
        cast(null as integer) as iso_day_of_week,
        'Unknown' as day_name,
        cast(null as integer) as iso_week_of_year,
        cast(null as integer) as decade_start_year,
        cast(null as {{ dbt.type_boolean() }}) as is_weekend

),

members as (

    select * from calendar
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['date_day']) }} as date_key,
        *
    from members

)

select * from final
