{#- True when the WHOLE text matches a regular expression (anchors optional). -#}
{% macro regex_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'tmdb')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{#- Java's rlike finds a match anywhere, so the pattern is wrapped to match the whole text: ^(?:...)\z
    (\z, not $: Java's $ also matches before a final line break, RE2's in DuckDB does not). Spark string
    literals treat the backslash as an escape character, so backslashes are doubled to reach the regex
    engine unchanged. -#}
{% macro spark__regex_full_match(text, pattern) -%}
    {%- set escaped = ('^(?:' ~ pattern ~ ')\\z') | replace('\\', '\\\\') | replace("'", "\\'") -%}
    ({{ text }} rlike '{{ escaped }}')
{%- endmacro %}
