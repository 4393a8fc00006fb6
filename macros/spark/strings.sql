{#- Spark implementation of macros/engine/strings.sql: concat_ws skips NULLs on Spark too. -#}
{% macro spark__join_non_null(expressions) -%}
    nullif(concat_ws(', ', {{ expressions | join(', ') }}), '')
{%- endmacro %}

{#- Spark implementation of sorted_names (macros/engine/strings.sql): collect_set drops NULLs and repeats. -#}
{% macro spark__sorted_names(expression) -%}
    nullif(array_join(array_sort(collect_set({{ expression }})), ', '), '')
{%- endmacro %}
