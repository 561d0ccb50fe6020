{#-
    One row per département × force × month × indicator: the latest publication wins (a
    revision replaces the value, history stays in staging), with the same month a year
    earlier and the change as a fraction (-0.25 = a quarter less). `evolution` is null when
    either value is missing or last year's is 0 (no meaningful ratio).
-#}
{%- set known_indicators = [
    'cameras_pietons_dotees', 'cameras_pietons_enregistrements', 'delegues_cohesion',
    'intervenants_sociaux', 'signalements_plateforme', 'actions_rapprochement_jeunes',
    'plan_local_communication'
] -%}

with publications as (
    select * from {{ ref('stg_police__indicators') }}
),

ranked as (
    select
        publications.*,
        row_number() over (
            partition by publications.code_departement, publications.force, publications.mois, publications.indicateur
            order by publications.publie_le desc, publications.loaded_at desc, publications.source asc
        ) as revision_rank,
        count(*) over (
            partition by publications.code_departement, publications.force, publications.mois, publications.indicateur
        ) as nb_publications
    from publications
),

latest as (
    select * from ranked
    where revision_rank = 1
)

select
    cur.code_departement,
    cur.force,
    cur.mois,
    cur.indicateur,
    cur.valeur,
    prev.valeur as valeur_annee_precedente,
    case
        when prev.valeur > 0 and cur.valeur is not null
            then (cur.valeur - prev.valeur) / prev.valeur
    end as evolution,
    {%- set known_list = "('" ~ (known_indicators | join("', '")) ~ "')" %}
    cur.indicateur in {{ known_list }} as indicateur_connu,
    cur.publie_le,
    cur.nb_publications,
    cur.source,
    cur.request_url,
    cur.page,
    cur.source_file_sha256,
    cur.source_file_name,
    cur.source_row
from latest as cur
left join latest as prev
    on
        cur.code_departement = prev.code_departement
        and cur.force = prev.force
        and cur.indicateur = prev.indicateur
        and cast(cur.mois - interval '1 year' as date) = prev.mois
