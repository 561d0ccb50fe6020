{#-
    The live files: those whose rows the marts count. A file is live when it was loaded (with
    or without rejects) and no newer file for the same sender and period superseded it; the
    loader keeps that status in audit.file_loads (vigie.ingest.batches). Duplicates (bytes
    already received) and quarantined files are not live. The one place the rule is written.
-#}
select
    source_file_sha256,
    source_file_name,
    source,
    kind,
    status,
    sender,
    period,
    rows_read,
    rows_loaded,
    rows_rejected,
    file_modified_at,
    received_at
from {{ ref('stg_audit__file_loads') }}
where status in ('loaded', 'loaded_with_rejects')
