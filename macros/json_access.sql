{#- Reading fields out of JSON differs per engine: models call these macros, never the engine's own
    JSON operators, so another engine needs only its own `<adapter>__` implementations here.

    A "JSON value" is, on every engine, JSON text: one JSON value (DuckDB: a JSON column; Spark: a STRING
    column holding minified JSON), SQL NULL when the key is missing or the value is JSON null.
    Spark reads JSON text into VARIANT (parse_json, from_json with variant fields, Spark >= 4.0), which
    keeps each value's JSON type, so the strict typing of json_value_as is the same as on DuckDB: "90"
    (a string) is not a runtime, 1.5 is not a count. (get_json_object / from_json with string fields
    would hand back "90" and 90 alike.) -#}


{#- One field of a document as BIGINT (NULL when missing or not an integer). Used by the raw layer. -#}
{% macro json_get_bigint(json_column, key) -%}
    {{ return(adapter.dispatch('json_get_bigint', 'tmdb')(json_column, key)) }}
{%- endmacro %}

{% macro duckdb__json_get_bigint(json_column, key) -%}
    try_cast({{ json_column }} ->> '$.{{ key }}' as bigint)
{%- endmacro %}

{#- As DuckDB's try_cast(doc ->> '$.key' as bigint): the member's text (strings unquoted), rounded to an
    integer when it is a decimal number, NULL when it is not a number or does not fit a BIGINT. -#}
{% macro spark__json_get_bigint(json_column, key) -%}
    try_cast(try_cast(get_json_object({{ json_column }}, '$.{{ key }}') as decimal(38, 0)) as bigint)
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

{#- One from_json pass over the document into a struct of VARIANTs, each member then turned back into
    JSON text (SQL NULL for a missing key and for JSON null, as DuckDB's json_transform gives).
    The conversion runs inside a lambda over that one struct: the document is parsed once per row, and
    the result is one opaque expression that Spark's optimizer computes once as a column, instead of
    copying the parse into every place a field is used (which made planning a staging model take tens
    of seconds). -#}
{% macro spark__json_parse_fields(json_column, keys) -%}
    {%- set schema = [] -%}
    {%- for key in keys -%}
        {%- do schema.append('`' ~ key ~ '` variant') -%}
    {%- endfor -%}
    transform(
        array(from_json({{ json_column }}, '{{ schema | join(', ') }}')),
        parsed_doc -> named_struct(
            {%- for key in keys %}
            '{{ key }}', {{ tmdb.spark_variant_as_json('parsed_doc.`' ~ key ~ '`') }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
    )[0]
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

{#- Same rules as duckdb__json_value_as, on JSON text. bigint: a number equal to its integer value
    (12 and 12.0, not 12.5), within BIGINT; the text is never a quoted string there, since a cast of
    '"12"' fails. -#}
{% macro spark__json_value_as(json_value, data_type) -%}
    {%- if data_type == 'text' -%}
        case when startswith({{ json_value }}, '"') then try_variant_get(parse_json({{ json_value }}), '$', 'string') end
    {%- elif data_type == 'bigint' -%}
        case
            when try_cast({{ json_value }} as double) = try_cast({{ json_value }} as decimal(38, 0))
                then try_cast(try_cast({{ json_value }} as decimal(38, 0)) as bigint)
        end
    {%- elif data_type == 'double' -%}
        try_cast({{ json_value }} as double)
    {%- elif data_type == 'boolean' -%}
        case {{ json_value }} when 'true' then true when 'false' then false end
    {%- elif data_type == 'array' -%}
        case when startswith({{ json_value }}, '[') then {{ json_value }} end
    {%- elif data_type == 'object' -%}
        case when startswith({{ json_value }}, '{') then {{ json_value }} end
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

{% macro spark__json_value_is_empty_string(json_value) -%}
    ({{ json_value }} = '""')
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

{% macro spark__json_get_text(json_value, key=none) -%}
    {%- if key is none -%}
        {{ tmdb.json_value_as(json_value, 'text') }}
    {%- else -%}
        {{ tmdb.json_value_as(tmdb.spark_json_member(json_value, key), 'text') }}
    {%- endif -%}
{%- endmacro %}


{#- One member of a JSON object as a SQL type (see json_value_as for the accepted data types). -#}
{% macro json_get_as(json_value, key, data_type) -%}
    {{ return(adapter.dispatch('json_get_as', 'tmdb')(json_value, key, data_type)) }}
{%- endmacro %}

{% macro duckdb__json_get_as(json_value, key, data_type) -%}
    {{ tmdb.json_value_as('(' ~ json_value ~ " -> '$." ~ key ~ "')", data_type) }}
{%- endmacro %}

{% macro spark__json_get_as(json_value, key, data_type) -%}
    {{ tmdb.json_value_as(tmdb.spark_json_member(json_value, key), data_type) }}
{%- endmacro %}


{#- Mean of the numbers > 0 in a JSON array, ignoring elements that are not numbers; NULL when there is
    none (an empty array, say). -#}
{% macro json_array_mean(json_array) -%}
    {{ return(adapter.dispatch('json_array_mean', 'tmdb')(json_array)) }}
{%- endmacro %}

{% macro duckdb__json_array_mean(json_array) -%}
    list_avg(list_filter(
        list_transform(cast({{ json_array }} as json[]), x -> {{ tmdb.json_value_as('x', 'double') }}),
        x -> x > 0
    ))
{%- endmacro %}

{% macro spark__json_array_mean(json_array) -%}
    aggregate(
        filter(
            transform(
                try_variant_get(parse_json({{ json_array }}), '$', 'array<variant>'),
                element -> {{ tmdb.json_value_as('to_json(element)', 'double') }}
            ),
            element -> element > 0
        ),
        named_struct('total', cast(0 as double), 'n', cast(0 as bigint)),
        (acc, element) -> named_struct('total', acc.total + element, 'n', acc.n + 1),
        acc -> case when acc.n > 0 then acc.total / acc.n end
    )
{%- endmacro %}


{#- Spark helpers of the implementations above (and of spark__unnest_json_array in unnest.sql). -#}

{#- A VARIANT as JSON text; SQL NULL for SQL NULL and for JSON null. -#}
{% macro spark_variant_as_json(variant) -%}
    case when not is_variant_null({{ variant }}) then to_json({{ variant }}) end
{%- endmacro %}

{#- One member of a JSON value (text) as JSON text: JSON null stays the text 'null', as DuckDB's `->`
    gives; NULL when the member is missing or the value is not an object. -#}
{% macro spark_json_member(json_value, key) -%}
    to_json(try_variant_get(parse_json({{ json_value }}), '$.{{ key }}', 'variant'))
{%- endmacro %}
