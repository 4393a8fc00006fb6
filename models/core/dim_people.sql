with series_creators as (

    select * from {{ ref('int_series_creators_unnested') }}

),

attribute_counts as (

    select
        person_id,
        person_name,
        gender_code,
        profile_path,
        count(*) as occurrences
    from series_creators
    where person_id is not null
    group by person_id, person_name, gender_code, profile_path

),

ranked_attributes as (

    -- one person id may be described differently across documents: the most frequent description wins
    select
        *,
        row_number() over (
            partition by person_id
            order by
                case when person_name is null then 1 else 0 end asc,
                occurrences desc,
                person_name asc,
                gender_code asc,
                profile_path asc
        ) as attribute_rank
    from attribute_counts

),

known_people as (

    select
        person_id,
        coalesce(person_name, 'Unknown') as person_name,
        gender_code,
        profile_path
    from ranked_attributes
    where attribute_rank = 1

),

unknown_member as (

    select
        cast(null as {{ dbt.type_bigint() }}) as person_id,
        'Unknown' as person_name,
        cast(null as {{ dbt.type_bigint() }}) as gender_code,
        cast(null as {{ dbt.type_string() }}) as profile_path

),

members as (

    select * from known_people
    union all
    select * from unknown_member

),

final as (

    select
        {{ surrogate_key(['person_id']) }} as person_key,
        person_id,
        person_name,
        gender_code,
        -- TMDB's gender codes
        case gender_code
            when 1 then 'Female'
            when 2 then 'Male'
            when 3 then 'Non-binary'
            else 'Not specified'
        end as gender,
        profile_path,
        person_id is null as is_unknown_member
    from members

)

select * from final
