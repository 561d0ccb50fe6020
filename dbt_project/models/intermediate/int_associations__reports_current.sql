{#-
    The live association reports' rows: a newer report for the same SIRET and période
    supersedes the earlier one (int_audit__live_files), so a corrected report counts once.
    What association_activity counts and dim_structure describes. Never the sensitive count
    (stg_associations__reports leaves it out).
-#}
with reports as (
    select * from {{ ref('stg_associations__reports') }}
),

live_files as (
    select
        source_file_sha256,
        file_modified_at,
        received_at
    from {{ ref('int_audit__live_files') }}
    where source = 'associations'
)

select
    reports.*,
    live_files.file_modified_at,
    live_files.received_at
from reports
inner join live_files on reports.source_file_sha256 = live_files.source_file_sha256
