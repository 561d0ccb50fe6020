{#-
    One row per contrat de ville (département × contrat_id) ever followed: its latest name,
    EPCI and annex status, and when it was followed and when its annex was first reported
    adopted.
-#}
with followups as (
    select
        *,
        row_number() over (partition by code_departement, contrat_id order by annee desc) as recency
    from {{ ref('int_prefectures__contrats_de_ville_current') }}
),

history as (
    select
        code_departement,
        contrat_id,
        min(annee) as premiere_annee,
        max(annee) as derniere_annee,
        count(*) as nb_suivis,
        min(case when plan_radicalisation = 'oui' then annee end) as premiere_annee_plan_adopte,
        max(date_adoption_plan) as date_adoption_plan
    from followups
    group by code_departement, contrat_id
)

select
    cast(latest.code_departement as varchar) as code_departement,
    cast(latest.contrat_id as varchar) as contrat_id,
    cast(latest.nom_contrat as varchar) as nom_contrat,
    cast(latest.siren_epci as varchar) as siren_epci,
    cast(latest.nb_qpv as integer) as nb_qpv,
    cast(latest.plan_radicalisation as varchar) as plan_radicalisation,
    cast(history.date_adoption_plan as date) as date_adoption_plan,
    cast(history.premiere_annee_plan_adopte as integer) as premiere_annee_plan_adopte,
    cast(history.premiere_annee as integer) as premiere_annee,
    cast(history.derniere_annee as integer) as derniere_annee,
    cast(history.nb_suivis as integer) as nb_suivis
from followups as latest
inner join history
    on
        latest.code_departement = history.code_departement
        and latest.contrat_id = history.contrat_id
where latest.recency = 1
