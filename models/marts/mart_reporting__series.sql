with titles as (

    select * from {{ ref('fct_titles') }}

),

title_names as (

    select * from {{ ref('dim_titles') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

series_networks as (

    select * from {{ ref('bridge_series_networks') }}

),

networks as (

    select * from {{ ref('dim_networks') }}

),

title_genres as (

    select * from {{ ref('bridge_title_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

network_lists as (

    select
        series_networks.title_key,
        count(distinct series_networks.network_key) as network_count,
        {{ sorted_names('networks.network_name') }} as network_names
    from series_networks
    inner join networks
        on series_networks.network_key = networks.network_key
    group by series_networks.title_key

),

genre_lists as (

    select
        title_genres.title_key,
        {{ sorted_names('genres.genre_name') }} as genre_names
    from title_genres
    inner join genres
        on title_genres.genre_key = genres.genre_key
    group by title_genres.title_key

),

series as (

    select
        titles.title_key,
        title_names.tmdb_id,
        title_names.title,
        title_names.status,
        title_names.series_type,
        title_names.is_in_production,
        first_aired.year_number as first_air_year,
        last_aired.year_number as last_air_year,
        titles.number_of_seasons,
        titles.number_of_episodes,
        titles.vote_count,
        titles.vote_average,
        titles.popularity,
        coalesce(network_lists.network_count, 0) as network_count,
        network_lists.network_names,
        genre_lists.genre_names
    from titles
    inner join title_names
        on titles.title_key = title_names.title_key
    inner join dates as first_aired
        on titles.release_date_key = first_aired.date_key
    inner join dates as last_aired
        on titles.last_air_date_key = last_aired.date_key
    left join network_lists
        on titles.title_key = network_lists.title_key
    left join genre_lists
        on titles.title_key = genre_lists.title_key
    where titles.title_type = 'series'

),

final as (

    select
        title_key,
        tmdb_id,
        title,
        status,
        series_type,
        is_in_production,
        first_air_year,
        last_air_year,
        -- calendar years with an episode on air, first and last included; NULL unless both are known
        case
            when first_air_year is not null and last_air_year >= first_air_year
                then last_air_year - first_air_year + 1
        end as years_on_air,
        number_of_seasons,
        number_of_episodes,
        vote_count,
        vote_average,
        popularity,
        cast(network_count as {{ dbt.type_bigint() }}) as network_count,
        network_names,
        genre_names
    from series

)

select * from final
