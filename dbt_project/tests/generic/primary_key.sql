{#-
    `columns` are the model's key: no row has a null in them and no two rows share them. dbt's
    `unique` + `not_null`, for one column or several, in one query: one node per build instead
    of one per column (dbt's per-node overhead, not the data, is most of a weekly build).
-#}
{% test primary_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1{% for column in columns %} or {{ column }} is null{% endfor %}
{% endtest %}
