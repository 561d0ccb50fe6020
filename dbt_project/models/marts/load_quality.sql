{#-
    Rejected rows counted per source × kind × département × year × file status × column ×
    reason: what analysts may know of the loaders' rejects, counts only (no value, no row,
    no file name). From audit.load_reject_counts, which covers every file validated,
    quarantined ones included.

    The département and year are the file's: its sender and the years its rows name for a
    prefecture file (a file naming two years counts in both), the département and période its
    rows declare for an association report. Null when the file cannot be placed: police files
    (they mix départements) and files quarantined whole (never read far enough).
-#}
with counts as (
    select
        source_file_sha256,
        source,
        kind,
        column_name,
        reason,
        rows_rejected
    from {{ ref('stg_audit__load_reject_counts') }}
),

files as (
    select
        source_file_sha256,
        status,
        sender,
        period
    from {{ ref('stg_audit__file_loads') }}
    where status != 'duplicate'
),

association_departements as (
    select distinct
        source_file_sha256,
        code_departement
    from {{ ref('stg_associations__reports') }}
),

placed as (
    select
        counts.*,
        files.status as file_status,
        case
            when counts.source = 'prefectures' then files.sender
            when counts.source = 'associations' then association_departements.code_departement
        end as code_departement,
        case
            when counts.source in ('prefectures', 'associations') then files.period
        end as periods
    from counts
    inner join files on counts.source_file_sha256 = files.source_file_sha256
    left join association_departements
        on counts.source_file_sha256 = association_departements.source_file_sha256
),

exploded as (
    select
        placed.*,
        unnest(string_to_array(placed.periods, ',')) as periode
    from placed
    where placed.periods is not null
),

by_year as (
    select
        exploded.*,
        cast(substr(exploded.periode, 1, 4) as integer) as annee
    from exploded

    union all

    select
        placed.*,
        cast(null as varchar) as periode,
        cast(null as integer) as annee
    from placed
    where placed.periods is null
)

select
    cast(source as varchar) as source,
    cast(kind as varchar) as kind,
    cast(code_departement as varchar) as code_departement,
    cast(annee as integer) as annee,
    cast(file_status as varchar) as file_status,
    cast(column_name as varchar) as column_name,
    cast(reason as varchar) as reason,
    cast(count(distinct source_file_sha256) as integer) as nb_files,
    cast(sum(rows_rejected) as bigint) as rows_rejected
from by_year
group by source, kind, code_departement, annee, file_status, column_name, reason
