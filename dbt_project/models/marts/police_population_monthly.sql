{#-
    One row per département × force × month × indicator: the latest publication wins (a
    revision replaces the value, history stays in staging), with the same month a year
    earlier and the change as a fraction (-0.25 = a quarter less). `evolution` is null when
    either value is missing or last year's is 0 (no meaningful ratio). An indicator is known
    when dim_indicateur (the contract's list) holds it.
-#}
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
),

known as (
    select indicateur from {{ ref('dim_indicateur') }}
)

select
    cast(cur.code_departement as varchar) as code_departement,
    cast(cur.force as varchar) as force,
    cast(cur.mois as date) as mois,
    cast(cur.indicateur as varchar) as indicateur,
    cast(cur.valeur as double precision) as valeur,
    cast(prev.valeur as double precision) as valeur_annee_precedente,
    cast(case
        when prev.valeur > 0 and cur.valeur is not null
            then (cur.valeur - prev.valeur) / prev.valeur
    end as double precision) as evolution,
    cast(known.indicateur is not null as boolean) as indicateur_connu,
    cast(cur.publie_le as timestamp with time zone) as publie_le,
    cast(cur.nb_publications as integer) as nb_publications,
    cast(cur.source as varchar) as source,
    cast(cur.request_url as varchar) as request_url,
    cast(cur.page as integer) as page,
    cast(cur.source_file_sha256 as varchar) as source_file_sha256,
    cast(cur.source_file_name as varchar) as source_file_name,
    cast(cur.source_row as integer) as source_row
from latest as cur
left join latest as prev
    on
        cur.code_departement = prev.code_departement
        and cur.force = prev.force
        and cur.indicateur = prev.indicateur
        and cast(cur.mois - interval '1 year' as date) = prev.mois
left join known on cur.indicateur = known.indicateur
