{#- THE way every surrogate key in the warehouse is made: md5 of the natural-key parts cast to text,
    joined with '|', with NULL as '_null_'. Because NULL has a fixed token, the key of an absent natural
    key (a title without a release date, a genre element without an id) is the same value as the key of
    the dimension's unknown member row, whose natural key is NULL: no fact or bridge row loses its join. -#}
{% macro surrogate_key(columns) -%}
    {{ return(adapter.dispatch('surrogate_key', 'tmdb')(columns)) }}
{%- endmacro %}

{#- One implementation for DuckDB and Spark: the same md5 over the same text, so a key made on Spark
    equals the one made on DuckDB for the same natural key (integers, text and dates cast to the same text
    on both engines; doubles do not: 1e20 is '1e+20' on DuckDB, '1.0E20' on Spark). -#}
{% macro default__surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
    {%- endfor -%}
    md5({{ parts | join(" || '|' || ") }})
{%- endmacro %}
