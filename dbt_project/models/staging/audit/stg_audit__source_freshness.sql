{#-
    The last `dbt source freshness` check of each source table (vigie.warehouse.dbt_runner).
    The table appears with the first check; until then this view is empty (same columns) and
    the freshness columns of data_freshness are null ("not checked").
-#}
{%- set raw_table = source('audit', 'source_freshness') -%}

{% if relation_exists(raw_table) %}
    select
        source_name,
        table_name,
        loaded_at_field,
        warn_after,
        error_after,
        status,
        status_since
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as source_name,
        cast(null as varchar) as table_name,
        cast(null as varchar) as loaded_at_field,
        cast(null as varchar) as warn_after,
        cast(null as varchar) as error_after,
        cast(null as varchar) as status,
        cast(null as timestamp with time zone) as status_since
    where 1 = 0
{% endif %}
