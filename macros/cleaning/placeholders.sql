{#- THE placeholder rule (docs block `placeholder_rule`): TMDB writes "no value" as a value. These macros
    are the only place that turns those placeholders into NULL; staging models call them. -#}

{#- Text and dates: the empty string means "no value". -#}
{% macro null_if_blank(expression) -%}
    nullif({{ expression }}, '')
{%- endmacro %}

{#- Budget, revenue and runtime: 0 means "unknown", not "zero dollars" or "zero minutes". -#}
{% macro null_if_zero(expression) -%}
    nullif({{ expression }}, 0)
{%- endmacro %}

{#- Vote average: 0 with a vote count of 0 means "nobody rated it", not a rating of 0. -#}
{% macro rating_or_null(vote_average, vote_count) -%}
    case when not ({{ vote_average }} = 0 and {{ vote_count }} = 0) then {{ vote_average }} end
{%- endmacro %}
