{#- Reading fields out of a JSON document differs per engine; models call these, never the
    engine's own operators. -#}

{% macro json_get_bigint(json_column, key) -%}
    {{ return(adapter.dispatch('json_get_bigint', 'tmdb')(json_column, key)) }}
{%- endmacro %}

{% macro duckdb__json_get_bigint(json_column, key) -%}
    try_cast({{ json_column }} ->> '$.{{ key }}' as bigint)
{%- endmacro %}
