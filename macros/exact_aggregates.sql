{#- Sums and means of DOUBLEs that do not depend on row order. A DOUBLE sum does, in its last bits, so two builds
    of the same rows (one incremental, one from scratch; DuckDB and Spark) could disagree. Each value is rounded to
    `scale` decimals and summed as an exact DECIMAL, and the total turned back into a DOUBLE. -#}
{% macro exact_sum(expression, scale=6) -%}
    cast(sum(cast({{ expression }} as decimal(38, {{ scale }}))) as double)
{%- endmacro %}

{% macro exact_avg(expression, scale=6) -%}
    {{ exact_sum(expression, scale) }} / nullif(count({{ expression }}), 0)
{%- endmacro %}
