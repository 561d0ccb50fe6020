{#-
    One row per source × sender: when its last file arrived, when something of it was last
    loaded, and the rows loaded and rejected over its whole history. Files come from
    audit.file_loads (a file whose rows could not be read, hence whose sender is unknown, is
    counted under `sender = 'unknown'`); the police-population API is one more sender of the
    `police_population` source, named by its base URL, from audit.api_fetches; each reference
    list is a sender of the `reference` source, loaded when its content last changed.

    Each row also says how fresh its source's raw tables were at the last `dbt source
    freshness` check (the rules declared in the sources' yml, run by the weekly DAG's
    `check_source_freshness` task): the worst status of the source's tables, since when it
    holds, and each table's status. Null when never checked, and for the reference lists
    (no freshness rule).
-#}
with files as (
    select
        source,
        coalesce(sender, 'unknown') as sender,
        'file' as channel,
        received_at,
        case when status in ('loaded', 'loaded_with_rejects', 'superseded') then received_at end as loaded_at,
        rows_loaded,
        rows_rejected,
        case when status = 'quarantined' then 1 else 0 end as is_quarantined
    from {{ ref('stg_audit__file_loads') }}
),

fetches as (
    select
        'police_population' as source,
        base_url as sender,
        'api' as channel,
        finished_at as received_at,
        case when rows_inserted > 0 then finished_at end as loaded_at,
        rows_inserted as rows_loaded,
        rows_rejected,
        0 as is_quarantined
    from {{ ref('stg_audit__api_fetches') }}
    where status = 'ok'  -- a failed fetch delivered nothing
),

reference_lists as (
    select
        'reference' as source,
        table_name as sender,
        'reference' as channel,
        loaded_at as received_at,
        loaded_at,
        rows_loaded,
        0 as rows_rejected,
        0 as is_quarantined
    from {{ ref('stg_audit__reference_loads') }}
),

deliveries as (
    select * from files
    union all
    select * from fetches
    union all
    select * from reference_lists
),

{# The dbt sources of the raw tables, named as audit.file_loads names the sources. #}
table_freshness as (
    select
        case source_name when 'police' then 'police_population' else source_name end as source,
        table_name,
        status,
        status_since,
        case status when 'runtime error' then 4 when 'error' then 3 when 'warn' then 2 else 1 end as severity,
        table_name || ': ' || status
        || coalesce(' (warn after ' || warn_after || coalesce(', error after ' || error_after, '') || ')', '') as detail
    from {{ ref('stg_audit__source_freshness') }}
    where source_name in ('prefectures', 'police', 'associations')
),

worst_status as (
    select
        source,
        status,
        status_since
    from (
        select
            source,
            status,
            status_since,
            row_number() over (partition by source order by severity desc, status_since desc, table_name asc) as rank
        from table_freshness
    ) as ranked
    where rank = 1
),

details as (
    select
        source,
        string_agg(detail, '; ' order by table_name) as detail
    from table_freshness
    group by source
),

source_freshness as (
    select
        worst_status.source,
        worst_status.status,
        worst_status.status_since,
        details.detail
    from worst_status
    inner join details on worst_status.source = details.source
),

by_sender as (
    select
        source,
        sender,
        max(channel) as channel,
        count(*) as nb_deliveries,
        sum(is_quarantined) as nb_quarantined,
        max(received_at) as last_file_at,
        max(loaded_at) as last_load_at,
        sum(rows_loaded) as rows_loaded,
        sum(rows_rejected) as rows_rejected
    from deliveries
    group by source, sender
)

select
    cast(by_sender.source as varchar) as source,
    cast(by_sender.sender as varchar) as sender,
    cast(by_sender.channel as varchar) as channel,
    cast(by_sender.nb_deliveries as integer) as nb_deliveries,
    cast(by_sender.nb_quarantined as integer) as nb_quarantined,
    cast(by_sender.last_file_at as timestamp with time zone) as last_file_at,
    cast(by_sender.last_load_at as timestamp with time zone) as last_load_at,
    cast(by_sender.rows_loaded as bigint) as rows_loaded,
    cast(by_sender.rows_rejected as bigint) as rows_rejected,
    cast(source_freshness.status as varchar) as freshness_status,
    cast(source_freshness.status_since as timestamp with time zone) as freshness_status_since,
    cast(source_freshness.detail as varchar) as freshness_detail
from by_sender
left join source_freshness on by_sender.source = source_freshness.source
