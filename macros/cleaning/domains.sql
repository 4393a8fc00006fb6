{#- Valid ranges that typing enforces (see typed_fields). A value outside them is listed in
    `invalid_fields` and becomes NULL. -#}

{#- Dates: TMDB's oldest titles are from the 1870s; anything before 1870 or after 2100 is a typo or a
    placeholder such as 0001-01-01, not a release date. -#}
{% macro plausible_date_check() -%}
    {value} between date '1870-01-01' and date '2100-12-31'
{%- endmacro %}
