{#- OVERRIDES OF dbt-spark: dbt_spark_validate_get_incremental_strategy and dbt_spark_get_incremental_sql,
    which dbt-spark's incremental materialization calls by name (a root-project macro of the same name
    takes precedence over the adapter's). dbt runs them, never the project's models.

    Why: incremental models on Spark with plain parquet tables (no Delta/Iceberg/Hudi jars are to be had
    from PyPI, so MERGE and DELETE are not available).

    - append (dbt-spark's default; the raw models): new batches are inserted. Correct because a raw model
      only ever selects batches newer than the newest it holds.
    - delete+insert (the staging models, unique_key = the TMDB id): dbt-spark does not offer it, and
      insert_overwrite without partitions would replace the whole table with only the new rows. So the
      table is rewritten: the new rows, plus its rows whose key is not among them, are written to a work
      table first (Spark cannot overwrite a table it is reading), then copied over the model's table,
      then the work table is dropped; a run with no new rows leaves the table as it is. Same result as
      DuckDB's delete+insert (rows with a NULL key are never replaced), at the cost of rewriting the
      model's table: fine for tables of this size. Not atomic: a run that dies half-way leaves the work
      table behind (the next run replaces it) and may leave the model's table incomplete; `dbt build
      --full-refresh` rebuilds it from the raw layer.

    Both overrides hand every other strategy to dbt-spark unchanged. -#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'delete+insert' -%}
        {%- if not config.get('unique_key') -%}
            {{ exceptions.raise_compiler_error("incremental_strategy 'delete+insert' needs a unique_key") }}
        {%- endif -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy == 'delete+insert' -%}
        {{ tmdb.spark_rewrite_delete_insert(source, target, unique_key) }}
    {%- else -%}
        {{ dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) }}
    {%- endif -%}
{%- endmacro %}

{#- Runs the rewrite and returns its last statement as the model's main SQL. The new rows are written to
    the work table first, so the model's query is planned and run once; when there are none, the model's
    table is left as it is. -#}
{% macro spark_rewrite_delete_insert(source, target, unique_key) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set matches = [] -%}
    {%- for key in keys -%}
        {%- do matches.append('replacing.' ~ key ~ ' = kept.' ~ key) -%}
    {%- endfor -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set work = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rewrite'}) -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query('create table ' ~ work ~ ' using parquet as select ' ~ columns ~ ' from ' ~ source) -%}
    {%- set new_rows = run_query('select count(*) from ' ~ work).columns[0].values()[0] -%}
    {%- if new_rows > 0 -%}
        {%- do run_query(
            'insert into ' ~ work ~ ' select ' ~ columns ~ ' from ' ~ target ~ ' as kept'
            ~ ' where not exists (select 1 from ' ~ work ~ ' as replacing where ' ~ matches | join(' and ') ~ ')'
        ) -%}
        {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ work) -%}
    {%- endif -%}
    drop table if exists {{ work }}
{%- endmacro %}
