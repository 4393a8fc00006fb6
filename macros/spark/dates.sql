{#- Spark implementations of macros/engine/dates.sql. Spark's date names are always English (its
    formatters use Locale.US), and weekofyear is the ISO week, as on DuckDB. -#}

{#- DuckDB's try_strptime(text, '%Y-%m-%d') also accepts unpadded months and days and surrounding
    blanks; 'y-M-d' on the trimmed text accepts the same. NULL when not a real date (2020-02-30). -#}
{% macro spark__parse_iso_date(text) -%}
    cast(try_to_timestamp(trim({{ text }}), 'y-M-d') as date)
{%- endmacro %}

{#- explode() must stand in the select list of its own select: this is the whole body of a CTE. -#}
{% macro spark__calendar_spine(bounds_relation, first_day_column, last_day_column) -%}
    select
        explode(sequence(
            cast({{ first_day_column }} as date), cast({{ last_day_column }} as date), interval 1 day
        )) as date_day
    from {{ bounds_relation }}
{%- endmacro %}

{% macro spark__day_name(date_expression) -%}
    date_format({{ date_expression }}, 'EEEE')
{%- endmacro %}

{% macro spark__month_name(date_expression) -%}
    date_format({{ date_expression }}, 'MMMM')
{%- endmacro %}

{% macro spark__iso_day_of_week(date_expression) -%}
    cast(extract(dayofweek_iso from {{ date_expression }}) as integer)
{%- endmacro %}

{% macro spark__iso_week_of_year(date_expression) -%}
    cast(weekofyear({{ date_expression }}) as integer)
{%- endmacro %}
