{#- The intermediate layer re-derives only the titles staged since its last run.

    On DuckDB its models are incremental. A model reads the titles whose batch is newer than the newest
    batch it holds (its watermark). int_titles_unioned replaces their rows by title_key (delete+insert).
    The unnested models use a pre-hook instead, which deletes every row of those titles before the insert
    (append). delete+insert would keep the old elements of a title whose new version lists none.
    A title staged again gets a newer batch, so a change is never missed. The model's query reads the
    watermark after the hook's delete, which may lower it; the titles it then reads as well have no
    rows left (every row carries its title's current batch, and none is above the watermark), so
    nothing is inserted twice. Re-deriving a title gives the same rows, so a lagging watermark costs
    time, never correctness.

    On Spark these models are tables (dbt_project.yml). Plain parquet tables cannot delete rows, and
    rewriting the table costs as much as rebuilding it. -#}

{#- Pre-hook of an incremental model of titles (the unnested intermediate models; dim_titles, fct_titles,
    fct_series_seasons and the bridges in core, configured once in dbt_project.yml; mart_ml__movie_features):
    deletes the rows of the titles it is about to re-derive. A
    table built before it was incremental has no batch_id: it is named, with the one command that rebuilds
    it. -#}
{% macro delete_titles_since_last_run(titles) -%}
    {%- if is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if 'batch_id' not in columns -%}
            {{ exceptions.raise_compiler_error(
                this ~ ' was built before it became incremental (it has no batch_id column). Rebuild'
                ~ ' the incremental layers once: tmdb dbt build --full-refresh --select intermediate+'
                ~ ' (or delete the warehouse file and run again).'
            ) }}
        {%- endif %}
        delete from {{ this }}
        where title_key in (
            select title_key from {{ titles }}
            where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
        )
    {%- endif -%}
{%- endmacro %}
