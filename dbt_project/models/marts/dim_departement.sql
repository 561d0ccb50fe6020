{#- One row per département, with what the priority-territory lists hold there. -#}
with departements as (
    select * from {{ ref('stg_reference__departements') }}
),

communes as (
    select
        code_departement,
        count(*) as nb_communes,
        sum(population) as population
    from {{ ref('stg_reference__communes') }}
    where type_commune = 'commune-actuelle'
    group by code_departement
),

qpv as (
    select
        code_departement,
        sum(case when geographie = '2015' then 1 else 0 end) as nb_qpv_2015,
        sum(case when geographie = '2024' then 1 else 0 end) as nb_qpv_2024
    from {{ ref('stg_reference__qpv') }}
    group by code_departement
),

zsp as (
    select
        code_departement,
        count(*) as nb_zsp
    from {{ ref('stg_reference__zsp') }}
    group by code_departement
)

select
    cast(departements.code_departement as varchar) as code_departement,
    cast(departements.nom_departement as varchar) as nom_departement,
    cast(departements.code_region as varchar) as code_region,
    cast(departements.code_departement like '97%' as boolean) as is_overseas,
    cast(coalesce(communes.nb_communes, 0) as integer) as nb_communes,
    cast(communes.population as bigint) as population,
    cast(coalesce(qpv.nb_qpv_2015, 0) as integer) as nb_qpv_2015,
    cast(coalesce(qpv.nb_qpv_2024, 0) as integer) as nb_qpv_2024,
    cast(coalesce(zsp.nb_zsp, 0) as integer) as nb_zsp
from departements
left join communes on departements.code_departement = communes.code_departement
left join qpv on departements.code_departement = qpv.code_departement
left join zsp on departements.code_departement = zsp.code_departement
