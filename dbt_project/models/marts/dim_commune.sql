{#- One row per commune or arrondissement municipal, with the priority territories it holds. -#}
with communes as (
    select * from {{ ref('stg_reference__communes') }}
),

territories as (
    select
        code_commune,
        sum(case when territory_type = 'qpv' and geographie = '2015' then 1 else 0 end) as nb_qpv_2015,
        sum(case when territory_type = 'qpv' and geographie = '2024' then 1 else 0 end) as nb_qpv_2024,
        sum(case when territory_type = 'zsp' then 1 else 0 end) as nb_zsp
    from {{ ref('int_reference__territory_communes') }}
    group by code_commune
)

select
    cast(communes.code_commune as varchar) as code_commune,
    cast(communes.nom_commune as varchar) as nom_commune,
    cast(communes.code_departement as varchar) as code_departement,
    cast(communes.type_commune as varchar) as type_commune,
    cast(communes.population as bigint) as population,
    cast(communes.siren_epci as varchar) as siren_epci,
    cast(coalesce(territories.nb_qpv_2015, 0) as integer) as nb_qpv_2015,
    cast(coalesce(territories.nb_qpv_2024, 0) as integer) as nb_qpv_2024,
    cast(coalesce(territories.nb_zsp, 0) as integer) as nb_zsp
from communes
left join territories on communes.code_commune = territories.code_commune
