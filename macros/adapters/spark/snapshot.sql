{#- OVERRIDE OF dbt-spark: its snapshot materialization (a root-project materialization for the same
    adapter takes precedence over the adapter's). dbt runs it for every snapshot on Spark.

    Why: snapshots on Spark with plain parquet tables. dbt-spark's snapshot materialization accepts only
    Delta, Iceberg or Hudi tables (it ends in MERGE INTO), and none of their jars can be had from PyPI.
    This one keeps dbt's snapshot logic (strategy, staging rows, column names, hard_deletes, the checks
    on the existing table) and replaces only the MERGE: the snapshot table is rewritten as

      every row of the table, with dbt_valid_to set for the current versions the staging rows close
      ('update' / 'delete' rows, matched on dbt_scd_id, as the MERGE's `when matched` does)
      + the staging rows to insert (new keys, new versions; the MERGE's `when not matched`),

    written to a work table first (Spark cannot overwrite a table it reads), then copied over the
    snapshot table. Same rows as the MERGE. Not atomic, like any parquet rewrite: a run that dies between
    the two steps leaves the work table (the next run replaces it).

    A snapshot configured with file_format delta / iceberg / hudi goes to dbt-spark's materialization
    unchanged. -#}

{% materialization snapshot, adapter='spark' %}
    {%- set file_format = config.get('file_format') or 'parquet' -%}
    {%- if file_format in ['delta', 'iceberg', 'hudi'] -%}
        {{ return(dbt.materialization_snapshot_spark()) }}
    {%- endif -%}

    {%- set target_table = model.get('alias', model.get('name')) -%}
    {%- set strategy_name = config.get('strategy') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}

    {%- set target_relation_exists, target_relation = get_or_create_relation(
        database=none, schema=model.schema, identifier=target_table, type='table'
    ) -%}
    {%- if not target_relation.is_table -%}
        {% do exceptions.relation_wrong_type(target_relation, 'table') %}
    {%- endif -%}
    {%- if not adapter.check_schema_exists(model.database, model.schema) -%}
        {% do create_schema(model.schema) %}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set strategy_macro = strategy_dispatch(strategy_name) -%}
    {%- set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) -%}

    {%- if not target_relation_exists -%}
        {%- set build_sql = build_snapshot_table(strategy, model['compiled_code']) -%}
        {%- set final_sql = create_table_as(False, target_relation, build_sql) -%}
    {%- else -%}
        {{ adapter.valid_snapshot_target(target_relation, columns) }}
        {%- set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) -%}
        {%- set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
            | rejectattr('name', 'equalto', 'dbt_change_type')
            | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
            | rejectattr('name', 'equalto', 'dbt_unique_key')
            | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
            | list -%}
        {% do create_columns(target_relation, missing_columns) %}
        {%- set final_sql = tmdb.spark_snapshot_rewrite(target_relation, staging_table, columns) -%}
    {%- endif -%}

    {% call statement('main') -%}
        {{ final_sql }}
    {%- endcall %}

    {%- set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) -%}
    {% do apply_grants(target_relation, grant_config, should_revoke) %}
    {% do persist_docs(target_relation, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {%- if staging_table is defined -%}
        {% do post_snapshot(staging_table) %}
    {%- endif -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- Runs the rewrite; returns the last statement (dropping the work table) as the snapshot's main SQL. -#}
{% macro spark_snapshot_rewrite(target, staging, columns) -%}
    {%- set scd_id = columns.dbt_scd_id -%}
    {%- set valid_to = columns.dbt_valid_to -%}
    {%- set current_valid_to = config.get('dbt_valid_to_current') -%}
    {%- set is_current = 'kept.' ~ valid_to ~ ' is null' -%}
    {%- if current_valid_to -%}
        {%- set is_current = '(' ~ is_current ~ ' or kept.' ~ valid_to ~ ' = ' ~ current_valid_to ~ ')' -%}
    {%- endif -%}
    {%- set target_columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set kept_columns = [] -%}
    {%- set inserted_columns = [] -%}
    {%- for column in target_columns -%}
        {%- do inserted_columns.append(adapter.quote(column)) -%}
        {%- if column | lower == valid_to | lower -%}
            {%- do kept_columns.append(
                'case when closing.' ~ scd_id ~ ' is not null and ' ~ is_current
                ~ ' then closing.closed_at else kept.' ~ adapter.quote(column) ~ ' end as ' ~ adapter.quote(column)
            ) -%}
        {%- else -%}
            {%- do kept_columns.append('kept.' ~ adapter.quote(column)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set work = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rewrite'}) -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query(
        'create table ' ~ work ~ ' using parquet as'
        ~ ' select ' ~ kept_columns | join(', ') ~ ' from ' ~ target ~ ' as kept'
        ~ ' left join (select ' ~ scd_id ~ ', min(' ~ valid_to ~ ') as closed_at from ' ~ staging
        ~ " where dbt_change_type in ('update', 'delete') group by " ~ scd_id ~ ') as closing'
        ~ ' on closing.' ~ scd_id ~ ' = kept.' ~ scd_id
        ~ ' union all select ' ~ inserted_columns | join(', ')
        ~ ' from ' ~ staging ~ " where dbt_change_type = 'insert'"
    ) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select * from ' ~ work) -%}
    drop table if exists {{ work }}
{%- endmacro %}
