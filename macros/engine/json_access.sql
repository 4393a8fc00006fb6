{#- Reading fields out of JSON differs per engine: models call these macros, never the engine's own
    JSON operators, so another engine needs only its own `<adapter>__` implementations here. -#}

{#- One field of a document as BIGINT (NULL when missing or not an integer). Used by the raw layer. -#}
{% macro json_get_bigint(json_column, key) -%}
    {{ return(adapter.dispatch('json_get_bigint', 'tmdb')(json_column, key)) }}
{%- endmacro %}

{% macro duckdb__json_get_bigint(json_column, key) -%}
    try_cast({{ json_column }} ->> '$.{{ key }}' as bigint)
{%- endmacro %}


{#- Parses a document ONCE into a struct with one member per key, each holding that key's value as a
    small JSON value (SQL NULL when the key is missing or JSON null). Parsing is the expensive step on
    620k documents; everything after it works on the small values. Access a member as `<alias>.<key>`. -#}
{% macro json_parse_fields(json_column, keys) -%}
    {{ return(adapter.dispatch('json_parse_fields', 'tmdb')(json_column, keys)) }}
{%- endmacro %}

{% macro duckdb__json_parse_fields(json_column, keys) -%}
    {%- set members = [] -%}
    {%- for key in keys -%}
        {%- do members.append('"' ~ key ~ '": "JSON"') -%}
    {%- endfor -%}
    json_transform({{ json_column }}, '{{ "{" ~ members | join(", ") ~ "}" }}')
{%- endmacro %}


{#- A JSON value (one parsed field, or an array element) converted to a SQL type, strictly: a value of
    the wrong JSON type becomes NULL instead of being coerced ("90 min" is not a runtime, {"id": 18} is
    not a list of genres, 1.5 is not a count). data_type is one of:
    text, bigint, double, boolean, array, object (array/object stay JSON). -#}
{% macro json_value_as(json_value, data_type) -%}
    {{ return(adapter.dispatch('json_value_as', 'tmdb')(json_value, data_type)) }}
{%- endmacro %}

{% macro duckdb__json_value_as(json_value, data_type) -%}
    {%- set as_text = 'cast(' ~ json_value ~ ' as varchar)' -%}
    {%- if data_type == 'text' -%}
        case when starts_with({{ as_text }}, '"') then {{ json_value }} ->> '$' end
    {%- elif data_type == 'bigint' -%}
        case
            when try_cast({{ as_text }} as double) = try_cast({{ as_text }} as bigint)
                then try_cast({{ as_text }} as bigint)
        end
    {%- elif data_type == 'double' -%}
        try_cast({{ as_text }} as double)
    {%- elif data_type == 'boolean' -%}
        case {{ as_text }} when 'true' then true when 'false' then false end
    {%- elif data_type == 'array' -%}
        case when starts_with({{ as_text }}, '[') then {{ json_value }} end
    {%- elif data_type == 'object' -%}
        case when starts_with({{ as_text }}, '{') then {{ json_value }} end
    {%- else -%}
        {{ exceptions.raise_compiler_error("json_value_as: unknown data_type '" ~ data_type ~ "'") }}
    {%- endif -%}
{%- endmacro %}


{#- True when a JSON value is the empty string "" (TMDB's placeholder for "no value" in text and date
    fields; see the placeholder rule in macros/cleaning/placeholders.sql). -#}
{% macro json_value_is_empty_string(json_value) -%}
    {{ return(adapter.dispatch('json_value_is_empty_string', 'tmdb')(json_value)) }}
{%- endmacro %}

{% macro duckdb__json_value_is_empty_string(json_value) -%}
    (cast({{ json_value }} as varchar) = '""')
{%- endmacro %}


{#- One member of a JSON object (e.g. an array element) as text; NULL when missing, JSON null or not
    text. With key=none the value itself (an array of plain strings such as origin_country). -#}
{% macro json_get_text(json_value, key=none) -%}
    {{ return(adapter.dispatch('json_get_text', 'tmdb')(json_value, key)) }}
{%- endmacro %}

{% macro duckdb__json_get_text(json_value, key=none) -%}
    {%- if key is none -%}
        {{ tmdb.json_value_as(json_value, 'text') }}
    {%- else -%}
        {{ tmdb.json_value_as('(' ~ json_value ~ " -> '$." ~ key ~ "')", 'text') }}
    {%- endif -%}
{%- endmacro %}


{#- One member of a JSON object as a SQL type (see json_value_as for the accepted data types). -#}
{% macro json_get_as(json_value, key, data_type) -%}
    {{ return(adapter.dispatch('json_get_as', 'tmdb')(json_value, key, data_type)) }}
{%- endmacro %}

{% macro duckdb__json_get_as(json_value, key, data_type) -%}
    {{ tmdb.json_value_as('(' ~ json_value ~ " -> '$." ~ key ~ "')", data_type) }}
{%- endmacro %}


{#- Mean of the numbers in a JSON array, ignoring elements that are not numbers; NULL for an empty array. -#}
{% macro json_array_mean(json_array) -%}
    {{ return(adapter.dispatch('json_array_mean', 'tmdb')(json_array)) }}
{%- endmacro %}

{% macro duckdb__json_array_mean(json_array) -%}
    list_avg(list_filter(
        list_transform(cast({{ json_array }} as json[]), x -> {{ tmdb.json_value_as('x', 'double') }}),
        x -> x > 0
    ))
{%- endmacro %}


{#- The SQL type of a column holding JSON text (nested arrays kept for intermediate models to unnest). -#}
{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'tmdb')()) }}
{%- endmacro %}

{% macro duckdb__type_json() -%}
    json
{%- endmacro %}
