{#- Reading the landing zone is engine-specific (DuckDB reads the NDJSON through the source's
    external_location; other engines register it differently), so it sits behind adapter.dispatch. -#}

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

{#- The newest batch already loaded into an incremental raw model; later batches are the new ones.
    Batch ids are zero-padded and sortable (b000001, b000002, ...), and a batch is only visible once
    complete, so "greater than the newest loaded" is exactly "not loaded yet". -#}
{% macro newest_loaded_batch(relation) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query("select coalesce(max(batch_id), '') from " ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{#- The landing zone's folder, as the tmdb_landing source defines it (its meta.tmdb_landing_dir). -#}
{% macro landing_dir() -%}
    {%- for node in graph.sources.values() if node.source_name == 'tmdb_landing' -%}
        {{ return(node.config.meta.get('tmdb_landing_dir') or node.meta.get('tmdb_landing_dir')) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('source tmdb_landing is not defined') }}
{%- endmacro %}
