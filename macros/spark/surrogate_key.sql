{#- Spark implementation of macros/engine/surrogate_key.sql: the same md5 over the same text, so a key
    made on Spark equals the one made on DuckDB for the same natural key (integers, text and dates cast
    to the same text on both engines; doubles do not: 1e20 is '1e+20' on DuckDB, '1.0E20' on Spark). -#}
{% macro spark__surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
    {%- endfor -%}
    md5({{ parts | join(" || '|' || ") }})
{%- endmacro %}
