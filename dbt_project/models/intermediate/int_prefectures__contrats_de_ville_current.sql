{#-
    The live contrats de ville follow-up rows: a later file for the same département and year
    supersedes the earlier one (int_audit__live_files), superseded rows stay in staging. Each row
    gets the previous year's annex status of the same contract.
-#}
with contrats as (
    select * from {{ ref('stg_prefectures__contrats_de_ville') }}
),

live_files as (
    select source_file_sha256
    from {{ ref('int_audit__live_files') }}
    where source = 'prefectures' and kind = 'contrats'
),

live as (
    select contrats.*
    from contrats
    inner join live_files on contrats.source_file_sha256 = live_files.source_file_sha256
)

select
    live.*,
    lag(live.plan_radicalisation) over (
        partition by live.code_departement, live.contrat_id order by live.annee
    ) as plan_radicalisation_precedent,
    lag(live.annee) over (
        partition by live.code_departement, live.contrat_id order by live.annee
    ) as annee_precedente
from live
