{#-
    Every fetch of the police-population API. The table appears with the police DAG's first
    run; until then this view is empty (same columns) so the rest of the project builds.
-#}
{%- set raw_table = source('audit', 'api_fetches') -%}

{% if relation_exists(raw_table) %}
    {#- Warehouses from before failed fetches were recorded have no status: all were 'ok'. -#}
    {%- set columns = adapter.get_columns_in_relation(raw_table) | map(attribute='name') | map('lower') | list -%}
    select
        fetch_id,
        source as channel,
        base_url,
        depuis,
        jusqua,
        pages,
        rows_received,
        rows_inserted,
        rows_rejected,
        unknown_indicators,
        started_at,
        finished_at,
        dag_run_id,
        {% if 'status' in columns -%}
            coalesce(status, 'ok') as status,
            error
        {%- else -%}
            'ok' as status,
            cast(null as varchar) as error
        {%- endif %}
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as fetch_id,
        cast(null as varchar) as channel,
        cast(null as varchar) as base_url,
        cast(null as varchar) as depuis,
        cast(null as varchar) as jusqua,
        cast(null as integer) as pages,
        cast(null as integer) as rows_received,
        cast(null as integer) as rows_inserted,
        cast(null as integer) as rows_rejected,
        cast(null as varchar) as unknown_indicators,
        cast(null as timestamp with time zone) as started_at,
        cast(null as timestamp with time zone) as finished_at,
        cast(null as varchar) as dag_run_id,
        cast(null as varchar) as status,
        cast(null as varchar) as error
    where 1 = 0
{% endif %}
