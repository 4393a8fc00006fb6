-- How has film and TV production shifted between world regions? Each region's share of the titles
-- produced (movies) or originated (series) per decade, from the country-by-decade mart. A title
-- made in several countries counts once per country.
with country_decades as (

    select * from {{ ref('mart_reporting__country_decade') }}

),

region_decades as (

    select
        decade_start_year,
        region,
        sum(title_count) as title_count
    from country_decades
    where decade_start_year is not null
    group by decade_start_year, region

)

select
    decade_start_year,
    region,
    title_count,
    round(100.0 * title_count / sum(title_count) over (partition by decade_start_year), 1) as share_percent
from region_decades
order by decade_start_year asc, share_percent desc
