{#- Every combination of `columns` (nulls aside) exists as `fields` in `to`: a composite foreign key. -#}
{% test relationships_combination(model, columns, to, fields) %}
select child.*
from (
    select {{ columns | join(', ') }}
    from {{ model }}
    where {% for column in columns %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
) as child
left join {{ to }} as parent
    on
        {% for column in columns -%}
            child.{{ column }} = parent.{{ fields[loop.index0] }}{% if not loop.last %} and {% endif %}
        {%- endfor %}
where parent.{{ fields[0] }} is null
{% endtest %}
