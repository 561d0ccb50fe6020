{#-
    The ANCT 2024-to-2015 QPV correspondence, when a loader provides it; until then an empty
    view with the same columns, and dim_qpv leaves the link between geographies empty.
-#}
{%- set raw_table = source('reference', 'qpv_correspondance') -%}

{% if relation_exists(raw_table) %}
    select
        code_qpv_2024,
        code_qpv_2015
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as code_qpv_2024,
        cast(null as varchar) as code_qpv_2015
    where 1 = 0
{% endif %}
