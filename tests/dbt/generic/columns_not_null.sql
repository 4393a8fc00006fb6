{#- Fails with the rows where any of the listed columns is NULL: the not_null test of several columns in
    one query (one test node per model instead of one per column keeps a full build fast). -#}
{% test columns_not_null(model, column_names) %}

select *
from {{ model }}
where
    {% for column_name in column_names -%}
        {{ column_name }} is null{% if not loop.last %} or{% endif %}
    {% endfor %}

{% endtest %}
