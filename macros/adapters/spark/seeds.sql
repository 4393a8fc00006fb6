{#- OVERRIDES OF dbt-spark: its seed macros spark__create_csv_table and spark__load_csv_rows (dispatched
    by dbt's seed materialization; a root-project macro of the same name takes precedence over the
    adapter's). dbt runs these, never the project's models.

    Why: the project writes seed column_types the DuckDB way (`varchar`), which Spark does not know
    (tmdb.spark_type in macros/types.sql maps them), and dbt-spark's own row loading breaks on quotes and
    retypes numbers (see spark__load_csv_rows). -#}

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

{#- Seed rows as SQL literals. dbt-spark's own version passes the values as bindings, which its session
    method pastes into the SQL unescaped (a country named Côte d'Ivoire breaks the statement) and turns
    every number into a float. -#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- do tmdb.spark_map_seed_column_types(model) -%}
    {%- set column_types = model['config'].get('column_types') or {} -%}
    {%- set types = [] -%}
    {%- for column_name in agate_table.column_names -%}
        {%- do types.append(column_types.get(column_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set rows = [] -%}
        {%- for row in chunk -%}
            {%- set values = [] -%}
            {%- for value in row -%}
                {%- do values.append('cast(' ~ tmdb.spark_literal(value) ~ ' as ' ~ types[loop.index0] ~ ')') -%}
            {%- endfor -%}
            {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
        {%- endfor -%}
        {%- set sql = 'insert into ' ~ this.render() ~ ' values\n' ~ rows | join(',\n') -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if not statements -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{%- endmacro %}

{#- A seed value (None, bool, number, text, date) as a Spark SQL literal. Spark string literals treat the
    backslash as an escape character, so backslashes and quotes are escaped. -#}
{% macro spark_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- elif value is sameas true or value is sameas false -%}
        {{ return('true' if value else 'false') }}
    {%- elif value is number -%}
        {{ return(value | string) }}
    {%- else -%}
        {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
    {%- endif -%}
{%- endmacro %}
