{#- What the dimensions of the things titles name by id (genres, collections, companies, networks) share:
    one description per id. TMDB may describe one id differently across documents; the most frequent
    description wins, a described name before a missing one, ties broken by the description's columns in
    order (ascending). A missing name becomes 'Unknown'.

    A whole select (the body of a CTE) of the id and its description columns, in the order given. -#}
{% macro most_frequent_description(relation, id_column, name_column, other_columns=[]) -%}
    {%- set description_columns = [name_column] + other_columns -%}
    select
        {{ id_column }},
        coalesce({{ name_column }}, 'Unknown') as {{ name_column }}
        {%- for column in other_columns %},
        {{ column }}
        {%- endfor %}
    from (
        select
            *,
            row_number() over (
                partition by {{ id_column }}
                order by
                    case when {{ name_column }} is null then 1 else 0 end asc,
                    occurrences desc
                    {%- for column in description_columns %},
                    {{ column }} asc
                    {%- endfor %}
            ) as description_rank
        from (
            select
                {{ id_column }},
                {{ description_columns | join(',\n                ') }},
                count(*) as occurrences
            from {{ relation }}
            where {{ id_column }} is not null
            group by {{ id_column }}, {{ description_columns | join(', ') }}
        ) as description_counts
    ) as ranked_descriptions
    where description_rank = 1
{%- endmacro %}
