{{
    config(
        materialized='incremental',
        unique_key='series_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- The fields read from each series document, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'name', 'type': 'text'},
    {'key': 'original_name', 'type': 'text'},
    {'key': 'original_language', 'type': 'text', 'pattern': '^[a-z]{2}$'},
    {'key': 'overview', 'type': 'text'},
    {'key': 'status', 'type': 'text'},
    {'key': 'type', 'type': 'text'},
    {'key': 'first_air_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'last_air_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'in_production', 'type': 'boolean'},
    {'key': 'number_of_seasons', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'number_of_episodes', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'episode_run_time', 'type': 'array'},
    {'key': 'popularity', 'type': 'double', 'check': '{value} >= 0'},
    {'key': 'vote_count', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'vote_average', 'type': 'double', 'check': '{value} between 0 and 10'},
    {'key': 'homepage', 'type': 'text'},
    {'key': 'poster_path', 'type': 'text'},
    {'key': 'backdrop_path', 'type': 'text'},
    {'key': 'genres', 'type': 'array'},
    {'key': 'production_companies', 'type': 'array'},
    {'key': 'origin_country', 'type': 'array'},
    {'key': 'languages', 'type': 'array'},
    {'key': 'networks', 'type': 'array'},
    {'key': 'seasons', 'type': 'array'},
    {'key': 'created_by', 'type': 'array'},
] -%}

with source as (

    select * from {{ ref('raw_tmdb__series') }}
    {% if is_incremental() %}
        -- only batches newer than the newest one staged
        where batch_id > (select coalesce(max(staged.batch_id), '') from {{ this }} as staged)
    {% endif %}

),

ranked as (

    -- latest batch wins; within a batch the first source_file (in sort order) wins. The documents ride
    -- along the window: cheaper than ranking keys alone and joining the winners back to their documents.
    select
        *,
        row_number() over (partition by tmdb_id order by batch_id desc, source_file asc) as recency_rank,
        count(*) over (partition by tmdb_id) as raw_record_count
    from source

),

{% if is_incremental() %}
    previously_staged as (

        -- the version already staged for an id is superseded too: it counts as one more duplicate
        select
            series_id,
            duplicates_removed + 1 as superseded_record_count
        from {{ this }}

    ),
{% endif %}

deduplicated as (

    select
        ranked.raw_record_key,
        ranked.batch_id,
        ranked.source_file,
        ranked.file_sha256,
        ranked.tmdb_id,
        ranked.doc,
        ranked.raw_record_count - 1
        {%- if is_incremental() %} + coalesce(previously_staged.superseded_record_count, 0){% endif %}
            as duplicates_removed
    from ranked
    {% if is_incremental() %}
        left join previously_staged
            on ranked.tmdb_id = previously_staged.series_id
    {% endif %}
    where ranked.recency_rank = 1

),

parsed as (

    -- the one place a document is parsed
    select
        *,
        {{ json_parse_fields('doc', spec_keys(fields)) }} as document_fields
    from deduplicated

),

typed as (

    select
        *,
        {{- typed_fields('document_fields', fields) }}
    from parsed

),

flagged as (

    select
        *,
        {{ invalid_fields('document_fields', fields) }} as invalid_fields
    from typed

),

renamed as (

    select
        tmdb_id as series_id,
        name as series_name,
        original_name,
        original_language as original_language_code,
        overview,
        status,
        type as series_type,
        first_air_date,
        last_air_date,
        in_production as is_in_production,
        number_of_seasons,
        number_of_episodes,
        {{ json_array_mean('episode_run_time') }} as episode_runtime_minutes,
        popularity,
        vote_count,
        {{ rating_or_null('vote_average', 'vote_count') }} as vote_average,
        homepage as homepage_url,
        poster_path,
        backdrop_path,
        episode_run_time as episode_run_times_json,
        genres as genres_json,
        production_companies as production_companies_json,
        origin_country as origin_countries_json,
        languages as spoken_languages_json,
        networks as networks_json,
        seasons as seasons_json,
        created_by as creators_json,
        invalid_fields,
        duplicates_removed,
        batch_id,
        source_file,
        file_sha256,
        raw_record_key
    from flagged

)

select * from renamed
