{#- The non-NULL texts of a list of expressions joined with ', '; NULL when all of them are NULL. -#}
{% macro join_non_null(expressions) -%}
    {{ return(adapter.dispatch('join_non_null', 'tmdb')(expressions)) }}
{%- endmacro %}

{#- concat_ws skips NULLs on DuckDB and on Spark alike. -#}
{% macro default__join_non_null(expressions) -%}
    nullif(concat_ws(', ', {{ expressions | join(', ') }}), '')
{%- endmacro %}

{#- The distinct non-NULL texts of a group, sorted and joined with ', ' (a title's genre names, a series'
    networks); NULL when the group has none. Sorted, so that every engine gives the same text. -#}
{% macro sorted_names(expression) -%}
    {{ return(adapter.dispatch('sorted_names', 'tmdb')(expression)) }}
{%- endmacro %}

{% macro duckdb__sorted_names(expression) -%}
    string_agg(distinct {{ expression }}, ', ' order by {{ expression }})
{%- endmacro %}

{#- collect_set drops NULLs and repeats. -#}
{% macro spark__sorted_names(expression) -%}
    nullif(array_join(array_sort(collect_set({{ expression }})), ', '), '')
{%- endmacro %}
