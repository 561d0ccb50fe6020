{#-
    Rows rejected per file, column and reason: counts only, never a value. The loader creates
    the table with the others (vigie.ingest.batches.ensure_schema); a warehouse older than it
    gets an empty view instead.
-#}
{%- set raw_table = source('audit', 'load_reject_counts') -%}

{% if relation_exists(raw_table) %}
    select
        source_file_sha256,
        source_file_name,
        source,
        kind,
        column_name,
        reason,
        rows_rejected,
        counted_at,
        dag_run_id
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as source_file_sha256,
        cast(null as varchar) as source_file_name,
        cast(null as varchar) as source,
        cast(null as varchar) as kind,
        cast(null as varchar) as column_name,
        cast(null as varchar) as reason,
        cast(null as integer) as rows_rejected,
        cast(null as timestamp with time zone) as counted_at,
        cast(null as varchar) as dag_run_id
    where 1 = 0
{% endif %}
