{#- OVERRIDE OF dbt's get_empty_schema_sql on Spark: dbt's contract check dispatches it in the `dbt`
    namespace, where a root-project `spark__` macro is found before dbt's default__ (dbt-spark has none).
    dbt runs it, never the project's models.

    Why: model contracts declare types the DuckDB way (`varchar`, `json`; dbt's contract aliasing turns
    `string` into `text`), which Spark does not know. The types a contract declares are mapped to Spark
    names (tmdb.spark_type in macros/types.sql), then dbt's own implementation runs unchanged. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set mapped = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = {} -%}
        {%- do copy.update(column) -%}
        {%- if copy.get('data_type') -%}
            {%- do copy.update({'data_type': tmdb.spark_type(copy['data_type'])}) -%}
        {%- endif -%}
        {%- do mapped.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(mapped)) }}
{%- endmacro %}
