{#-
    One row per contrat de ville × follow-up year, from the live follow-up file of each
    département × year: the radicalisation-prevention annex status over time, with the
    previous follow-up's status and the file and row each figure came from.
-#}
select
    cast(code_departement as varchar) as code_departement,
    cast(annee as integer) as annee,
    cast(contrat_id as varchar) as contrat_id,
    cast(nom_contrat as varchar) as nom_contrat,
    cast(siren_epci as varchar) as siren_epci,
    cast(nb_qpv as integer) as nb_qpv,
    cast(plan_radicalisation as varchar) as plan_radicalisation,
    cast(date_adoption_plan as date) as date_adoption_plan,
    cast(annee_precedente as integer) as annee_precedente,
    cast(plan_radicalisation_precedent as varchar) as plan_radicalisation_precedent,
    cast(
        plan_radicalisation = 'oui' and coalesce(plan_radicalisation_precedent, '') != 'oui' as boolean
    ) as is_newly_adopted,
    cast(source_file_sha256 as varchar) as source_file_sha256,
    cast(source_file_name as varchar) as source_file_name,
    cast(source_row as integer) as source_row
from {{ ref('int_prefectures__contrats_de_ville_current') }}
