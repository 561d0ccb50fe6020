select
    source_file_sha256,
    source_file_name,
    source_file_path,
    source,
    kind,
    status,
    reason,
    rows_read,
    rows_loaded,
    rows_rejected,
    sender,
    period,
    file_modified_at,
    received_at,
    dag_run_id
from {{ source('audit', 'file_loads') }}
