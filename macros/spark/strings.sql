{#- Spark implementation of macros/engine/strings.sql: concat_ws skips NULLs on Spark too. -#}
{% macro spark__join_non_null(expressions) -%}
    nullif(concat_ws(', ', {{ expressions | join(', ') }}), '')
{%- endmacro %}
