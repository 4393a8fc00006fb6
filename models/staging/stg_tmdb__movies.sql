{{
    config(
        materialized='incremental',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- The fields read from each movie document, with their type and valid values (see typed_fields). -#}
{%- set fields = [
    {'key': 'imdb_id', 'type': 'text', 'pattern': '^tt[0-9]+$'},
    {'key': 'title', 'type': 'text'},
    {'key': 'original_title', 'type': 'text'},
    {'key': 'original_language', 'type': 'text', 'pattern': '^[a-z]{2}$'},
    {'key': 'overview', 'type': 'text'},
    {'key': 'tagline', 'type': 'text'},
    {'key': 'status', 'type': 'text'},
    {'key': 'release_date', 'type': 'date', 'check': plausible_date_check()},
    {'key': 'runtime', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'budget', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'revenue', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'popularity', 'type': 'double', 'check': '{value} >= 0'},
    {'key': 'vote_count', 'type': 'bigint', 'check': '{value} >= 0'},
    {'key': 'vote_average', 'type': 'double', 'check': '{value} between 0 and 10'},
    {'key': 'adult', 'type': 'boolean'},
    {'key': 'video', 'type': 'boolean'},
    {'key': 'homepage', 'type': 'text'},
    {'key': 'poster_path', 'type': 'text'},
    {'key': 'backdrop_path', 'type': 'text'},
    {'key': 'belongs_to_collection', 'type': 'object',
        'check': json_get_as('{value}', 'id', 'bigint') ~ ' is not null'},
    {'key': 'genres', 'type': 'array'},
    {'key': 'production_companies', 'type': 'array'},
    {'key': 'production_countries', 'type': 'array'},
    {'key': 'spoken_languages', 'type': 'array'},
] -%}

with source as (

    select * from {{ ref('raw_tmdb__movies') }}
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
            movie_id,
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
            on ranked.tmdb_id = previously_staged.movie_id
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
        tmdb_id as movie_id,
        imdb_id,
        title,
        original_title,
        original_language as original_language_code,
        overview,
        tagline,
        status,
        release_date,
        cast({{ null_if_zero('runtime') }} as integer) as runtime_minutes,
        {{ null_if_zero('budget') }} as budget_usd,
        {{ null_if_zero('revenue') }} as revenue_usd,
        popularity,
        vote_count,
        {{ rating_or_null('vote_average', 'vote_count') }} as vote_average,
        adult as is_adult,
        video as is_video,
        homepage as homepage_url,
        poster_path,
        backdrop_path,
        {{ json_get_as('belongs_to_collection', 'id', 'bigint') }} as collection_id,
        {{ json_get_text('belongs_to_collection', 'name') }} as collection_name,
        genres as genres_json,
        production_companies as production_companies_json,
        production_countries as production_countries_json,
        spoken_languages as spoken_languages_json,
        invalid_fields,
        duplicates_removed,
        batch_id,
        source_file,
        file_sha256,
        raw_record_key
    from flagged

)

select * from renamed
