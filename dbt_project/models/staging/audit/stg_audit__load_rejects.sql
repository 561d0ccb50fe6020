select
    source_file_sha256,
    source_file_name,
    source_row,
    column_name,
    value,
    reason,
    rejected_at
from {{ source('audit', 'load_rejects') }}
