{#- Date handling that differs per engine: strict ISO parsing, the calendar spine and calendar names.
    Spark's date names are always English (its formatters use Locale.US), as DuckDB's are. -#}

{#- A 'YYYY-MM-DD' string as a DATE; NULL when it is not a real calendar date ('2020-13-45', 'soon'). -#}
{% macro parse_iso_date(text) -%}
    {{ return(adapter.dispatch('parse_iso_date', 'tmdb')(text)) }}
{%- endmacro %}

{% macro duckdb__parse_iso_date(text) -%}
    cast(try_strptime({{ text }}, '%Y-%m-%d') as date)
{%- endmacro %}

{#- DuckDB's try_strptime(text, '%Y-%m-%d') also accepts unpadded months and days and surrounding
    blanks; 'y-M-d' on the trimmed text accepts the same. NULL when not a real date (2020-02-30). -#}
{% macro spark__parse_iso_date(text) -%}
    cast(try_to_timestamp(trim({{ text }}), 'y-M-d') as date)
{%- endmacro %}


{#- A whole select (the body of a CTE) of one row per day, column `date_day`, from the first to the
    last day (inclusive) given by two date columns of a one-row relation. -#}
{% macro calendar_spine(bounds_relation, first_day_column, last_day_column) -%}
    {{ return(adapter.dispatch('calendar_spine', 'tmdb')(
        bounds_relation, first_day_column, last_day_column
    )) }}
{%- endmacro %}

{% macro duckdb__calendar_spine(bounds_relation, first_day_column, last_day_column) -%}
    select
        cast(unnest(generate_series(
            {{ first_day_column }}, {{ last_day_column }}, interval 1 day
        )) as date) as date_day
    from {{ bounds_relation }}
{%- endmacro %}

{#- explode() must stand in the select list of its own select: this is the whole body of a CTE. -#}
{% macro spark__calendar_spine(bounds_relation, first_day_column, last_day_column) -%}
    select
        explode(sequence(
            cast({{ first_day_column }} as date), cast({{ last_day_column }} as date), interval 1 day
        )) as date_day
    from {{ bounds_relation }}
{%- endmacro %}


{#- English day name ('Monday') and month name ('January') of a date. -#}
{% macro day_name(date_expression) -%}
    {{ return(adapter.dispatch('day_name', 'tmdb')(date_expression)) }}
{%- endmacro %}

{% macro duckdb__day_name(date_expression) -%}
    dayname({{ date_expression }})
{%- endmacro %}

{% macro spark__day_name(date_expression) -%}
    date_format({{ date_expression }}, 'EEEE')
{%- endmacro %}

{% macro month_name(date_expression) -%}
    {{ return(adapter.dispatch('month_name', 'tmdb')(date_expression)) }}
{%- endmacro %}

{% macro duckdb__month_name(date_expression) -%}
    monthname({{ date_expression }})
{%- endmacro %}

{% macro spark__month_name(date_expression) -%}
    date_format({{ date_expression }}, 'MMMM')
{%- endmacro %}


{#- ISO day of week (1 = Monday ... 7 = Sunday) and ISO week number of a date. -#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'tmdb')(date_expression)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date_expression) -%}
    cast(isodow({{ date_expression }}) as integer)
{%- endmacro %}

{% macro spark__iso_day_of_week(date_expression) -%}
    cast(extract(dayofweek_iso from {{ date_expression }}) as integer)
{%- endmacro %}

{% macro iso_week_of_year(date_expression) -%}
    {{ return(adapter.dispatch('iso_week_of_year', 'tmdb')(date_expression)) }}
{%- endmacro %}

{#- weekofyear() is the ISO week on DuckDB and on Spark alike. -#}
{% macro default__iso_week_of_year(date_expression) -%}
    cast(weekofyear({{ date_expression }}) as integer)
{%- endmacro %}
