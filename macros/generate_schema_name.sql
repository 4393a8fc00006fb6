{#- Layers land in schemas named after them (raw, staging, core, marts), not in
    "<target schema>_<layer>": the warehouse has one user, and short names read better. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
