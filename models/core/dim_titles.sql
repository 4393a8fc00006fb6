with titles as (

    {{ batches_since_last_run(ref('int_titles_unioned')) }}

),

known_titles as (

    select
        title_type,
        tmdb_id,
        title,
        original_title,
        original_language_code,
        status,
        series_type,
        imdb_id,
        is_adult,
        is_video,
        is_in_production,
        homepage_url,
        poster_path,
        backdrop_path,
        tagline,
        overview,
        invalid_fields,
        batch_id,
        source_file
    from titles

),

unknown_member as (

    select
        cast(null as {{ dbt.type_string() }}) as title_type,
        cast(null as {{ dbt.type_bigint() }}) as tmdb_id,
        'Unknown' as title,
        cast(null as {{ dbt.type_string() }}) as original_title,
        cast(null as {{ dbt.type_string() }}) as original_language_code,
        cast(null as {{ dbt.type_string() }}) as status,
        cast(null as {{ dbt.type_string() }}) as series_type,
        cast(null as {{ dbt.type_string() }}) as imdb_id,
        cast(null as {{ dbt.type_boolean() }}) as is_adult,
        cast(null as {{ dbt.type_boolean() }}) as is_video,
        cast(null as {{ dbt.type_boolean() }}) as is_in_production,
        cast(null as {{ dbt.type_string() }}) as homepage_url,
        cast(null as {{ dbt.type_string() }}) as poster_path,
        cast(null as {{ dbt.type_string() }}) as backdrop_path,
        cast(null as {{ dbt.type_string() }}) as tagline,
        cast(null as {{ dbt.type_string() }}) as overview,
        cast(null as {{ dbt.type_string() }}) as invalid_fields,
        cast(null as {{ dbt.type_string() }}) as batch_id,
        cast(null as {{ dbt.type_string() }}) as source_file

),

members as (

    select * from known_titles
    union all
    select * from unknown_member
    {% if is_incremental() %}
        -- already there from the first build, and never a touched title
        where false
    {% endif %}

),

final as (

    select
        {{ surrogate_key(['title_type', 'tmdb_id']) }} as title_key,
        *,
        tmdb_id is null as is_unknown_member
    from members

)

select * from final
