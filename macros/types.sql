{#- Type names. The project writes types the DuckDB way (seed column_types, model contracts and the
    landing-zone contract, var tmdb_landing_zone, say `varchar`, `json`...; dbt's contract aliasing turns
    `string` into `text`). -#}

{#- The SQL type of a column holding JSON text (nested arrays kept for intermediate models to unnest). -#}
{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'tmdb')()) }}
{%- endmacro %}

{% macro duckdb__type_json() -%}
    json
{%- endmacro %}

{% macro spark__type_json() -%}
    string
{%- endmacro %}


{#- A type name written the DuckDB way as Spark's: Spark knows neither VARCHAR without a length nor TEXT
    nor JSON. Names Spark knows as they are (bigint, double, date, timestamp...) are returned unchanged.
    Used by the Spark landing-zone DDL (macros/landing/landing_zone.sql) and by the dbt-spark overrides
    for seeds and contracts (macros/adapters/spark/). -#}
{% macro spark_type(data_type) -%}
    {%- set name = (data_type | string | trim | lower) -%}
    {%- set mapped = {
        'varchar': 'string', 'text': 'string', 'string': 'string', 'char': 'string', 'bpchar': 'string',
        'json': 'string', 'uuid': 'string',
        'integer': 'int', 'int4': 'int', 'signed': 'int',
        'int8': 'bigint', 'long': 'bigint', 'hugeint': 'decimal(38, 0)',
        'float8': 'double', 'double precision': 'double', 'float4': 'float', 'real': 'float',
        'timestamptz': 'timestamp', 'timestamp with time zone': 'timestamp',
        'bool': 'boolean', 'logical': 'boolean',
    } -%}
    {{ return(mapped.get(name, data_type)) }}
{%- endmacro %}
