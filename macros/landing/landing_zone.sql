{#- Reading the landing zone: the NDJSON batches the Python stager writes under `<landing>/batch=<id>/`.
    Its columns are declared once, in dbt_project.yml's var tmdb_landing_zone (the landing-zone contract),
    and derived from there by the DuckDB sources (models/raw/_tmdb__sources.yml) and the Spark DDL below.

    DuckDB reads the files through each source's external_location; other engines register them
    differently, so the engine-specific parts sit behind adapter.dispatch. -#}

{#- The landing zone's folder, as the tmdb_landing source defines it (its meta.tmdb_landing_dir). -#}
{% macro landing_dir() -%}
    {%- for node in graph.sources.values() if node.source_name == 'tmdb_landing' -%}
        {{ return(node.config.meta.get('tmdb_landing_dir') or node.meta.get('tmdb_landing_dir')) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('source tmdb_landing is not defined') }}
{%- endmacro %}


{#- Fails the model with a message a person can act on when no batch has been staged yet, instead of
    the engine's "no files found" glob error. -#}
{% macro assert_landing_zone_has(entity) -%}
    {{ return(adapter.dispatch('assert_landing_zone_has', 'tmdb')(entity)) }}
{%- endmacro %}

{% macro default__assert_landing_zone_has(entity) -%}
    {%- if execute -%}
        {%- set pattern = landing_dir() ~ '/batch=*/' ~ entity ~ '*.ndjson' -%}
        {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {{ exceptions.raise_compiler_error(
                "nothing staged: no " ~ entity ~ " batch in the landing zone " ~ landing_dir()
                ~ ". Run `make stage` (or `make run`) first; `make stage SOURCE=sample` works offline."
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- "Nothing staged" on Spark: the source view has no row at all (no batch folder, or batch folders
    without any file of this entity). Reads at most one line. -#}
{% macro spark__assert_landing_zone_has(entity) -%}
    {%- if execute -%}
        {%- set found = run_query(
            'select count(*) from (select 1 from ' ~ source('tmdb_landing', entity) ~ ' limit 1) as any_line'
        ).columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {{ exceptions.raise_compiler_error(
                "nothing staged: no " ~ entity ~ " batch in the landing zone " ~ tmdb.landing_dir()
                ~ ". Run `make stage` (or `make run`) first; `make stage SOURCE=sample` works offline."
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The newest batch already loaded into an incremental raw model; later batches are the new ones.
    Batch ids are zero-padded and sortable (b000001, b000002, ...), and a batch is only visible once
    complete, so "greater than the newest loaded" is exactly "not loaded yet". -#}
{% macro newest_loaded_batch(relation) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query("select coalesce(max(batch_id), '') from " ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#- Declares the landing zone's files as the tmdb_landing source relations before anything runs
    (on-run-start in dbt_project.yml), on engines that need it.

    DuckDB reads the NDJSON through each source's meta.external_location; Spark has no such thing, so
    there the source relations tmdb_landing.movies / series / manifest are (re)declared over the same files:

    - one EXTERNAL json table per line shape, located at the landing root and partitioned by `batch`
      (the `batch=<id>` folders), with the columns declared, never inferred. `doc` is declared STRING, so
      Spark keeps each document whole as JSON text: no field can be lost or retyped by inference;
    - one view per source that keeps the files of that source (`movies-<n>.ndjson`, ...) by file name.
      Spark prunes on that name before opening a file, so summary.json and the other entities' files
      are never read; a filter on `batch` prunes whole batch folders (the incremental raw models).

    The tables are dropped and declared again on every run: cheap (no data is read), and the location
    always follows TMDB_DATA_DIR / TMDB_LANDING_DIR. They are EXTERNAL, so dropping them never touches the
    files. `recover partitions` registers the batches staged since the last run. mode FAILFAST: a line
    that is not valid JSON of the declared shape fails the run, naming the file, instead of becoming
    NULLs. -#}
{% macro register_landing_zone() -%}
    {{ return(adapter.dispatch('register_landing_zone', 'tmdb')()) }}
{%- endmacro %}

{#- DuckDB (and any engine that reads external_location) needs nothing: the hook renders to no SQL. -#}
{% macro default__register_landing_zone() -%}
{%- endmacro %}

{% macro spark__register_landing_zone() -%}
    {%- if execute -%}
        {%- set landing = tmdb.spark_landing_location() -%}
        {%- set schema = tmdb.landing_source_schema() -%}
        {#- The columns of each line shape, derived from the landing-zone contract (var tmdb_landing_zone:
            column -> DuckDB type name, mapped by spark_type), then the hive partition column `batch`. -#}
        {%- set contract = var('tmdb_landing_zone') -%}
        {%- set columns = {} -%}
        {%- set ddl = {} -%}
        {%- for shape in ['documents', 'manifest'] -%}
            {%- set names = [] -%}
            {%- set declared = [] -%}
            {%- for name, data_type in contract[shape].items() -%}
                {%- do names.append(name) -%}
                {%- do declared.append(name ~ ' ' ~ tmdb.spark_type(data_type)) -%}
            {%- endfor -%}
            {%- do columns.update({shape: (names + ['batch']) | join(', ')}) -%}
            {%- do ddl.update({shape: (declared + ['batch string']) | join(', ')}) -%}
        {%- endfor -%}
        {%- set file_tables = {
            'landing_documents': ddl['documents'],
            'landing_manifest': ddl['manifest'],
        } -%}
        {%- set views = [
            ('movies', 'landing_documents', columns['documents'], "like 'movies-%.ndjson'"),
            ('series', 'landing_documents', columns['documents'], "like 'series-%.ndjson'"),
            ('manifest', 'landing_manifest', columns['manifest'], "= 'manifest.ndjson'"),
        ] -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- for table, table_columns in file_tables.items() -%}
            {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ table) -%}
            {%- do run_query(
                'create table ' ~ schema ~ '.' ~ table ~ ' (' ~ table_columns ~ ') using json'
                ~ " options (mode 'FAILFAST')"
                ~ ' partitioned by (batch)'
                ~ " location '" ~ landing ~ "'"
                ~ " comment 'Landing zone lines, declared again on every run by tmdb.register_landing_zone'"
            ) -%}
            {%- do run_query('alter table ' ~ schema ~ '.' ~ table ~ ' recover partitions') -%}
        {%- endfor -%}
        {%- for name, table, view_columns, file_name_test in views -%}
            {%- do run_query(
                'create or replace view ' ~ schema ~ '.' ~ name ~ ' as select ' ~ view_columns
                ~ ' from ' ~ schema ~ '.' ~ table ~ ' where _metadata.file_name ' ~ file_name_test
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The schema (= Spark database) the tmdb_landing source resolves to. -#}
{% macro landing_source_schema() -%}
    {%- for node in graph.sources.values() if node.source_name == 'tmdb_landing' -%}
        {{ return(node.schema) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('source tmdb_landing is not defined') }}
{%- endmacro %}

{#- The landing folder as Spark needs it: a location without quotes, and an error a person can act on
    when the folder does not exist yet (Spark would otherwise create an empty table over nothing). -#}
{% macro spark_landing_location() -%}
    {%- set landing = tmdb.landing_dir() | trim -%}
    {%- if "'" in landing or '\\' in landing -%}
        {{ exceptions.raise_compiler_error("the landing zone path " ~ landing ~ " contains a quote or a backslash, which Spark locations cannot hold: move the data folder (TMDB_DATA_DIR) to a plain path") }}
    {%- endif -%}
    {{ return(landing) }}
{%- endmacro %}
