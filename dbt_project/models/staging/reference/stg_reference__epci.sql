{#-
    EPCI names, when the reference loader provides `reference.epci` (include/reference/geo/
    epci.csv); until then an empty view with the same columns, and dim_epci shows SIRENs only.
-#}
{%- set raw_table = source('reference', 'epci') -%}

{% if relation_exists(raw_table) %}
    select
        siren_epci,
        nom_epci
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as siren_epci,
        cast(null as varchar) as nom_epci
    where 1 = 0
{% endif %}
