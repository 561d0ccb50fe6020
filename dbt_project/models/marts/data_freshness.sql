{#-
    One row per source × sender: when its last file arrived, when something of it was last
    loaded, and the rows loaded and rejected over its whole history. Files come from
    audit.file_loads (a file whose rows could not be read, hence whose sender is unknown, is
    counted under `sender = 'unknown'`); the police-population API is one more sender of the
    `police_population` source, named by its base URL, from audit.api_fetches; each reference
    list is a sender of the `reference` source, loaded when its content last changed.
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
)

select
    cast(source as varchar) as source,
    cast(sender as varchar) as sender,
    cast(max(channel) as varchar) as channel,
    cast(count(*) as integer) as nb_deliveries,
    cast(sum(is_quarantined) as integer) as nb_quarantined,
    cast(max(received_at) as timestamp with time zone) as last_file_at,
    cast(max(loaded_at) as timestamp with time zone) as last_load_at,
    cast(sum(rows_loaded) as bigint) as rows_loaded,
    cast(sum(rows_rejected) as bigint) as rows_rejected
from deliveries
group by source, sender
