{#- Type names. The project writes types the DuckDB way (seed column_types and model contracts say
    `varchar`; dbt's contract aliasing turns `string` into `text`), and Spark knows neither VARCHAR
    without a length nor TEXT nor JSON. spark_type() maps such names to Spark's; dbt's own Spark
    macros that read them (seed tables, the contract check) get the mapped names through the two
    overrides below, which then hand over to dbt-spark's / dbt's implementation unchanged. -#}

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

{#- Seeds: column_types as Spark names, then dbt-spark's own seed DDL and inserts. `model` is this seed's
    own copy of its node (a dict made for this run), so mapping it in place changes nothing else. -#}
{% macro spark_map_seed_column_types(model) -%}
    {%- set column_types = model['config'].get('column_types') or {} -%}
    {%- for column_name, data_type in column_types.items() -%}
        {%- do column_types.update({column_name: tmdb.spark_type(data_type)}) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__create_csv_table(model, agate_table) -%}
    {%- do tmdb.spark_map_seed_column_types(model) -%}
    {{ return(dbt.spark__create_csv_table(model, agate_table)) }}
{%- endmacro %}

{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- do tmdb.spark_map_seed_column_types(model) -%}
    {{ return(dbt.spark__load_csv_rows(model, agate_table)) }}
{%- endmacro %}

{#- Contracts: the types a contract declares, as Spark names, for dbt's check of the model's columns. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set mapped = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = {} -%}
        {%- do copy.update(column) -%}
        {%- if copy.get('data_type') -%}
            {%- do copy.update({'data_type': tmdb.spark_type(copy['data_type'])}) -%}
        {%- endif -%}
        {%- do mapped.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(mapped)) }}
{%- endmacro %}
