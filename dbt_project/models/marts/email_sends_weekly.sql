{#-
    The pilots' weekly e-mails, counted: per week × transport × outcome, how many attempts,
    messages and recipients. Counts only: the send log's addresses stay in the audit schema.
-#}
select
    cast(week_start as date) as week_start,
    cast(transport as varchar) as transport,
    cast(outcome as varchar) as outcome,
    cast(count(*) as integer) as nb_attempts,
    cast(count(distinct checksum) as integer) as nb_messages,
    cast(count(distinct recipient) as integer) as nb_recipients,
    cast(sum(case when forced then 1 else 0 end) as integer) as nb_forced,
    cast(min(attempted_at) as timestamp with time zone) as first_attempt_at,
    cast(max(attempted_at) as timestamp with time zone) as last_attempt_at
from {{ ref('stg_audit__email_sends') }}
group by week_start, transport, outcome
