{{
    config(
        pre_hook="{{ delete_titles_since_last_run(ref('int_titles_unioned')) }}",
    )
}}

with titles as (

    select * from {{ ref('int_titles_unioned') }}
    {% if is_incremental() %}
        -- only the titles staged since this model's last run (see delete_titles_since_last_run)
        where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {% endif %}

),

elements as (

    {{ unnest_json_array(
        'titles', 'origin_countries_json', ['title_key', 'title_type', 'tmdb_id', 'batch_id']
    ) }}

),

renamed as (

    -- origin_country is a list of plain ISO 3166-1 codes; anything else is an invalid element
    select
        title_key,
        title_type,
        tmdb_id,
        element_position,
        case
            when {{ regex_full_match(json_get_text('element_json'), '^[A-Z]{2}$') }}
                then {{ json_get_text('element_json') }}
        end as country_code,
        case
            when not coalesce({{ regex_full_match(json_get_text('element_json'), '^[A-Z]{2}$') }}, false)
                then 'element'
        end as invalid_fields,
        batch_id
    from elements

),

ranked as (

    -- a title lists each country once; a repeated element keeps its first position
    select
        *,
        row_number() over (partition by title_key, country_code order by element_position) as occurrence
    from renamed

),

deduplicated as (

    select
        {{ surrogate_key(['title_key', 'country_code']) }} as title_origin_country_key,
        title_key,
        title_type,
        tmdb_id,
        country_code,
        element_position as country_position,
        invalid_fields,
        batch_id
    from ranked
    where occurrence = 1

)

select * from deduplicated
