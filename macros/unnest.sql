{#- Unnesting a JSON array into one row per element differs per engine. The macro emits a WHOLE select
    (meant as the body of a CTE), never a FROM-clause fragment: Spark needs explode() in the select list
    of its own CTE (posexplode() of the parsed array), DuckDB uses unnest() there as well.

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

{#- posexplode() stands in the select list of an inner select (Spark allows a generator there, not beside
    a join), over the array parsed as ARRAY<VARIANT> (NULL when the JSON is not an array: no rows, as for
    NULL and empty arrays). Elements come back as JSON text (SQL NULL for a JSON null element, as on
    DuckDB), positions 1-based. -#}
{% macro spark__unnest_json_array(relation, array_column, carry_columns) -%}
    select
        {%- for column in carry_columns %}
        {{ column }},
        {%- endfor %}
        {{ tmdb.spark_variant_as_json('element_variant') }} as element_json,
        cast(element_index + 1 as bigint) as element_position
    from (
        select
            {%- for column in carry_columns %}
            {{ column }},
            {%- endfor %}
            posexplode(
                try_variant_get(parse_json({{ array_column }}), '$', 'array<variant>')
            ) as (element_index, element_variant)
        from {{ relation }}
        where {{ array_column }} is not null
    ) as exploded
{%- endmacro %}
