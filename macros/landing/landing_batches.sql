{#- What the raw models share: the lines of one landing-zone source (movies, series or manifest), as a
    whole select (the body of a raw model's first CTE), keyed by where they were read.

    - A model fails with a message a person can act on when nothing is staged (assert_landing_zone_has).
    - A full build reads every batch; an incremental run only the batches newer than the newest one the
      model holds (newest_loaded_batch). The filter is on the hive partition column `batch`, so the
      engine skips the files of the batches already loaded without opening them.
    - raw_record_key (`<batch>/<source_file>`) and batch_id come first, then every column of the line
      (the landing-zone contract, var tmdb_landing_zone); the model's final select names those it keeps. -#}
{% macro landing_batches(entity) -%}
    {{ tmdb.assert_landing_zone_has(entity) }}
    select
        batch || '/' || source_file as raw_record_key,
        batch as batch_id,
        *
    from {{ source('tmdb_landing', entity) }}
    {%- if is_incremental() %}
    where batch > '{{ tmdb.newest_loaded_batch(this) }}'
    {%- endif %}
{%- endmacro %}
