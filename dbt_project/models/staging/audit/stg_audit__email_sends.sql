{#-
    Every attempt to send a pilot's weekly e-mail. The table appears with the weekly DAG's
    first delivery (vigie.alerts.sending); until then this view is empty (same columns). The
    subject and the SMTP error are left out: they may name a person or quote an address.
-#}
{%- set raw_table = source('audit', 'email_sends') -%}

{% if relation_exists(raw_table) %}
    select
        send_id,
        week_start,
        recipient,
        checksum,
        transport,
        outcome,
        forced,
        attempted_at,
        dag_run_id
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as send_id,
        cast(null as date) as week_start,
        cast(null as varchar) as recipient,
        cast(null as varchar) as checksum,
        cast(null as varchar) as transport,
        cast(null as varchar) as outcome,
        cast(null as boolean) as forced,
        cast(null as timestamp with time zone) as attempted_at,
        cast(null as varchar) as dag_run_id
    where 1 = 0
{% endif %}
