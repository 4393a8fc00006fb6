{#- The non-NULL texts of a list of expressions joined with ', '; NULL when all of them are NULL. -#}
{% macro join_non_null(expressions) -%}
    {{ return(adapter.dispatch('join_non_null', 'tmdb')(expressions)) }}
{%- endmacro %}

{#- concat_ws skips NULLs on DuckDB and on Spark alike. -#}
{% macro default__join_non_null(expressions) -%}
    nullif(concat_ws(', ', {{ expressions | join(', ') }}), '')
{%- endmacro %}
