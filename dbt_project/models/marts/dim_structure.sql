{#-
    One row per association structure (an organisation, identified by its SIRET) with at least
    one live report (int_associations__reports_current, as association_activity): a newer
    report for the same SIRET and période supersedes the earlier one, so a corrected
    report counts once. The name, réseau and département are those of the structure's most
    recent report (latest période, then the newest file), since a structure may rename itself
    or move. Nothing about people: no count, no contact.
-#}
with live_reports as (
    select distinct
        siret,
        source_file_sha256,
        source_file_name,
        structure,
        reseau,
        code_departement,
        periode,
        file_modified_at,
        received_at
    from {{ ref('int_associations__reports_current') }}
),

latest as (
    select
        siret,
        structure,
        reseau,
        code_departement,
        row_number() over (
            partition by siret
            order by periode desc, file_modified_at desc, source_file_name desc, source_file_sha256 desc
        ) as recency
    from live_reports
),

summary as (
    select
        siret,
        min(periode) as first_periode,
        max(periode) as last_periode,
        count(distinct source_file_sha256) as nb_reports,
        max(received_at) as last_received_at
    from live_reports
    group by siret
)

select
    cast(summary.siret as varchar) as siret,
    cast(latest.structure as varchar) as nom_structure,
    cast(latest.reseau as varchar) as reseau,
    cast(latest.code_departement as varchar) as code_departement,
    cast(summary.first_periode as varchar) as first_periode,
    cast(summary.last_periode as varchar) as last_periode,
    cast(summary.nb_reports as integer) as nb_reports,
    cast(summary.last_received_at as timestamp with time zone) as last_received_at
from summary
inner join latest on summary.siret = latest.siret and latest.recency = 1
