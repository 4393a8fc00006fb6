{#- Spark implementation of macros/engine/unnest.sql. posexplode() stands in the select list of an inner
    select (Spark allows a generator there, not beside a join), over the array parsed as
    ARRAY<VARIANT> (NULL when the JSON is not an array: no rows, as for NULL and empty arrays).
    Elements come back as JSON text (SQL NULL for a JSON null element, as on DuckDB), positions 1-based. -#}
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
