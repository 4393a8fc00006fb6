{#- Incremental models on Spark with plain parquet tables (no Delta/Iceberg/Hudi jars are to be had from
    PyPI, so MERGE and DELETE are not available).

    - append (dbt-spark's default; the raw models): new batches are inserted. Correct because a raw model
      only ever selects batches newer than the newest it holds.
    - delete+insert (the staging models, unique_key = the TMDB id): dbt-spark does not offer it, and
      insert_overwrite without partitions would replace the whole table with only the new rows. So the
      table is rewritten: its rows whose key is not among the new rows, plus the new rows, are written to
      a work table first (Spark cannot overwrite a table it is reading), then copied over the model's
      table, then the work table is dropped. Same result as DuckDB's delete+insert (rows with a NULL key
      are never replaced), at the cost of rewriting the model's table: fine for tables of this size. Not
      atomic: a run that dies between the two steps leaves the work table behind (the next run replaces
      it) and may leave the model's table incomplete -- `dbt build --full-refresh` rebuilds it.

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

{#- Runs the rewrite and returns the last statement (dropping the work table) as the model's main SQL. -#}
{% macro spark_rewrite_delete_insert(source, target, unique_key) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set matches = [] -%}
    {%- for key in keys -%}
        {%- do matches.append('replacing.' ~ key ~ ' = kept.' ~ key) -%}
    {%- endfor -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set work = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rewrite'}) -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query(
        'create table ' ~ work ~ ' using parquet as'
        ~ ' select ' ~ columns ~ ' from ' ~ target ~ ' as kept'
        ~ ' where not exists (select 1 from ' ~ source ~ ' as replacing where ' ~ matches | join(' and ') ~ ')'
        ~ ' union all select ' ~ columns ~ ' from ' ~ source
    ) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ work) -%}
    drop table if exists {{ work }}
{%- endmacro %}
