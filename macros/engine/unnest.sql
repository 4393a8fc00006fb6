{#- Unnesting a JSON array into one row per element differs per engine. The macro emits a WHOLE select
    (meant as the body of a CTE), never a FROM-clause fragment: Spark needs explode() in the select list
    of its own CTE (posexplode(from_json(...))), DuckDB uses unnest() there as well.

    Output columns: the carried columns, `element_json` (the element as JSON) and `element_position`
    (1-based position in the array). Rows whose array is NULL produce no rows, and neither do empty arrays. -#}
{% macro unnest_json_array(relation, array_column, carry_columns) -%}
    {{ return(adapter.dispatch('unnest_json_array', 'tmdb')(relation, array_column, carry_columns)) }}
{%- endmacro %}

{% macro duckdb__unnest_json_array(relation, array_column, carry_columns) -%}
    select
        {% for column in carry_columns -%}
            {{ column }},
        {% endfor -%}
        unnest(cast({{ array_column }} as json[])) as element_json,
        generate_subscripts(cast({{ array_column }} as json[]), 1) as element_position
    from {{ relation }}
    where {{ array_column }} is not null
{%- endmacro %}
