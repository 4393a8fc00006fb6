{#- A model's grain and its required columns in one test: the key (one column or several) is unique and not
    NULL, and every column in not_null is not NULL. It stands for a unique, a not_null and a columns_not_null
    test each: one test node and two passes over the table (one aggregation counts the NULLs of every column,
    one groups by the key) instead of a query per column, which at full size and on every build is time.
    Each failing check is one row naming it (`failure`) with how many rows fail it (`failing_rows`); the
    test fails with their sum, and the run's summary shows the rows. -#}
{% test primary_key(model, columns, not_null=[]) %}
    {{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set checked = columns + (not_null | reject('in', columns) | list) %}

    with null_counts as (

        select
            {% for column in checked -%}
                sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        from {{ model }}

    ),

    shared_keys as (

        select count(*) as rows_with_key
        from {{ model }}
        group by {{ columns | join(', ') }}
        having count(*) > 1

    ),

    failures as (

        select
            'duplicate key ({{ columns | join(", ") }})' as failure,
            sum(rows_with_key) as failing_rows
        from shared_keys
        {% for column in checked %}
            union all
            select
                'null {{ column }}' as failure,
                nulls_{{ loop.index }} as failing_rows
            from null_counts
        {% endfor %}

    )

    select * from failures
    where failing_rows > 0

{% endtest %}
