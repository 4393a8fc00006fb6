{#- Spark implementations of macros/engine/json_access.sql.

    A "JSON value" is, as on DuckDB, JSON text: a STRING column holding one minified JSON value, SQL NULL
    when the key is missing or the value is JSON null. Spark reads JSON text into VARIANT (parse_json,
    from_json with variant fields, Spark >= 4.0), which keeps each value's JSON type, so the strict typing
    of json_value_as is the same as on DuckDB: "90" (a string) is not a runtime, 1.5 is not a count.
    (get_json_object / from_json with string fields would hand back "90" and 90 alike.) -#}

{#- DuckDB: try_cast(doc ->> '$.key' as bigint): the member's text (strings unquoted), rounded to an
    integer when it is a decimal number, NULL when it is not a number or does not fit a BIGINT. -#}
{% macro spark__json_get_bigint(json_column, key) -%}
    try_cast(try_cast(get_json_object({{ json_column }}, '$.{{ key }}') as decimal(38, 0)) as bigint)
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


{#- A VARIANT as JSON text; SQL NULL for SQL NULL and for JSON null. -#}
{% macro spark_variant_as_json(variant) -%}
    case when not is_variant_null({{ variant }}) then to_json({{ variant }}) end
{%- endmacro %}


{#- One member of a JSON value (text) as JSON text: JSON null stays the text 'null', as DuckDB's `->`
    gives; NULL when the member is missing or the value is not an object. -#}
{% macro spark_json_member(json_value, key) -%}
    to_json(try_variant_get(parse_json({{ json_value }}), '$.{{ key }}', 'variant'))
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


{% macro spark__json_value_is_empty_string(json_value) -%}
    ({{ json_value }} = '""')
{%- endmacro %}


{% macro spark__json_get_text(json_value, key=none) -%}
    {%- if key is none -%}
        {{ tmdb.json_value_as(json_value, 'text') }}
    {%- else -%}
        {{ tmdb.json_value_as(tmdb.spark_json_member(json_value, key), 'text') }}
    {%- endif -%}
{%- endmacro %}


{% macro spark__json_get_as(json_value, key, data_type) -%}
    {{ tmdb.json_value_as(tmdb.spark_json_member(json_value, key), data_type) }}
{%- endmacro %}


{#- Mean of the elements that are numbers > 0 (as on DuckDB); NULL when there is none. -#}
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


{% macro spark__type_json() -%}
    string
{%- endmacro %}
