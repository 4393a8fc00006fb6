{#- The incremental read of a model fed by batches: every row of `relation` on a full build, and on an
    incremental run only the rows of the batches newer than the newest one the model already holds (its
    watermark, max(batch_id) of `this`). Batch ids are zero-padded and sortable, so "newer" is ">".
    A whole select, meant as the body of a model's first CTE. -#}
{% macro batches_since_last_run(relation) -%}
    select * from {{ relation }}
    {%- if is_incremental() %}
    -- only the batches staged since this model's last run (see delete_titles_since_last_run)
    where batch_id > (select coalesce(max(derived.batch_id), '') from {{ this }} as derived)
    {%- endif %}
{%- endmacro %}
