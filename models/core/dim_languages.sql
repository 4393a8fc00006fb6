with iso_languages as (

    select * from {{ ref('iso_639_1_languages') }}

),

codes_in_data as (

    select language_code from {{ ref('int_title_spoken_languages_unnested') }}
    union
    select original_language_code as language_code from {{ ref('int_titles_unioned') }}

),

all_codes as (

    -- every ISO language, plus any code the data uses that the ISO list lacks (TMDB's 'xx', 'cn')
    select language_code from iso_languages
    union
    select language_code from codes_in_data
    where language_code is not null

),

known_languages as (

    select
        all_codes.language_code,
        coalesce(iso_languages.language_name, 'Unknown') as language_name,
        iso_languages.language_code is not null as is_iso_639_1
    from all_codes
    left join iso_languages
        on all_codes.language_code = iso_languages.language_code

),

unknown_member as (

    select
        cast(null as {{ dbt.type_string() }}) as language_code,
        'Unknown' as language_name,
        false as is_iso_639_1

),

members as (

    select * from known_languages
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['language_code']) }} as language_key,
        *,
        language_code is null as is_unknown_member
    from members

)

select * from final
