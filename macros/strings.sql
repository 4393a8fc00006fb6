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

{#- list_distinct drops NULLs and repeats; a list sorted after the aggregate is ~5x cheaper than
    string_agg(distinct ... order by ...), which sorts every group's rows inside the aggregate. -#}
{% macro duckdb__sorted_names(expression) -%}
    nullif(array_to_string(list_sort(list_distinct(list({{ expression }}))), ', '), '')
{%- endmacro %}

{#- collect_set drops NULLs and repeats. -#}
{% macro spark__sorted_names(expression) -%}
    nullif(array_join(array_sort(collect_set({{ expression }})), ', '), '')
{%- endmacro %}
