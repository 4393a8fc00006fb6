{#- A title's JSON list (genres, companies, seasons, ...) as one row per element: the chain every unnested
    intermediate model shares. The model keeps what is its own: which fields an element has (the spec, see
    typed_fields), how they are named, and its final select.

    unnest_title_list returns a whole select (the body of a CTE) over the titles since the model's last
    run (batches_since_last_run): unnested (unnest_json_array), then, given a spec, each element parsed
    once, typed and flagged. Its columns: title_key, title_type, tmdb_id, batch_id, element_position,
    element_json, and with a spec element_fields, one typed column per field (named after its key) and
    invalid_fields (the fields, or the whole 'element', that could not be used). Given a unique_key, a
    title lists each thing once: the first element of each key is kept (first_in_title_list).

    The steps are nested selects rather than CTEs of their own: a CTE body cannot hold CTEs on every
    engine, and a select of this shape is one on DuckDB and Spark alike (the engine-specific parts are
    dispatched by the macros it calls). -#}
{% macro unnest_title_list(titles, list_column, spec=none, unique_key=none) -%}
    {%- set unnested -%}
        {{ tmdb.unnest_json_array(
            '(' ~ tmdb.batches_since_last_run(titles) ~ '\n) as titles',
            list_column,
            ['title_key', 'title_type', 'tmdb_id', 'batch_id']
        ) }}
    {%- endset -%}
    {%- set elements = unnested -%}
    {%- if spec is not none -%}
        {%- set elements -%}
    select
        *,
        {{ tmdb.invalid_fields('element_fields', spec, [tmdb.invalid_element('element_json')]) }}
            as invalid_fields
    from (
        select
            *,
            {{- tmdb.typed_fields('element_fields', spec) }}
        from (
            select
                *,
                {{ tmdb.json_parse_fields('element_json', tmdb.spec_keys(spec)) }} as element_fields
            from (
                {{ unnested }}
            ) as elements
        ) as parsed
    ) as typed
        {%- endset -%}
    {%- endif -%}
    {%- if unique_key is none -%}
        {{ elements }}
    {%- else -%}
        {{ tmdb.first_in_title_list('(\n' ~ elements ~ '\n) as elements', unique_key) }}
    {%- endif -%}
{%- endmacro %}

{#- A title lists each thing once: of the elements of `relation` that share a title_key and `key`, the
    one at the first position is kept, with all its columns (plus `occurrence`, always 1). A whole select,
    the body of a CTE. -#}
{% macro first_in_title_list(relation, key) -%}
    select *
    from (
        select
            *,
            row_number() over (partition by title_key, {{ key }} order by element_position) as occurrence
        from {{ relation }}
    ) as ranked
    where occurrence = 1
{%- endmacro %}
