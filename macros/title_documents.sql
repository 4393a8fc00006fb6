{#- Staging a title document (a movie or a series): what stg_tmdb__movies and stg_tmdb__series share.
    Each model keeps what is its own: the fields its documents have (the spec, see typed_fields), their
    names and cleaning, and its final select.

    stage_title_documents returns a whole select (the body of a CTE) over the raw documents of the batches
    since the model's last run (batches_since_last_run):
    - one document per id: the latest batch wins, and within a batch the first source_file (in sort
      order). The documents ride along the window: cheaper than ranking keys alone and joining the
      winners back to their documents;
    - duplicates_removed: the other copies of that id in those batches, plus, on an incremental run, the
      version already staged (superseded, one more duplicate) and the duplicates it had counted;
    - the document parsed once (document_fields), its fields typed (one column per field, named after its
      key) and flagged (invalid_fields).
    Its columns: raw_record_key, batch_id, source_file, file_sha256, tmdb_id, doc, duplicates_removed,
    document_fields, the typed fields, invalid_fields.

    The steps are nested selects, not CTEs, for the reason given in title_lists.sql. -#}
{% macro stage_title_documents(raw_documents, id_column, spec) -%}
    select
        *,
        {{ tmdb.invalid_fields('document_fields', spec) }} as invalid_fields
    from (
        select
            *,
            {{- tmdb.typed_fields('document_fields', spec) }}
        from (
            -- the one place a document is parsed
            select
                *,
                {{ tmdb.json_parse_fields('doc', tmdb.spec_keys(spec)) }} as document_fields
            from (
                select
                    ranked.raw_record_key,
                    ranked.batch_id,
                    ranked.source_file,
                    ranked.file_sha256,
                    ranked.tmdb_id,
                    ranked.doc,
                    ranked.raw_record_count - 1
                    {%- if is_incremental() %} + coalesce(previously_staged.superseded_record_count, 0){% endif %}
                        as duplicates_removed
                from (
                    select
                        *,
                        row_number() over (
                            partition by tmdb_id order by batch_id desc, source_file asc
                        ) as recency_rank,
                        count(*) over (partition by tmdb_id) as raw_record_count
                    from (
                        {{ tmdb.batches_since_last_run(raw_documents) }}
                    ) as raw_documents
                ) as ranked
                {%- if is_incremental() %}
                    left join (
                        select
                            {{ id_column }},
                            duplicates_removed + 1 as superseded_record_count
                        from {{ this }}
                    ) as previously_staged
                        on ranked.tmdb_id = previously_staged.{{ id_column }}
                {%- endif %}
                where ranked.recency_rank = 1
            ) as deduplicated
        ) as parsed
    ) as typed
{%- endmacro %}
