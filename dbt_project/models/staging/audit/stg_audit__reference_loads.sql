{#-
    When each reference list last changed. The loader creates the table with the others
    (vigie.ingest.batches.ensure_schema); a warehouse older than it gets an empty view instead.
-#}
{%- set raw_table = source('audit', 'reference_loads') -%}

{% if relation_exists(raw_table) %}
    select
        table_name,
        sha256,
        rows_loaded,
        loaded_at
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as table_name,
        cast(null as varchar) as sha256,
        cast(null as bigint) as rows_loaded,
        cast(null as timestamp with time zone) as loaded_at
    where 1 = 0
{% endif %}
