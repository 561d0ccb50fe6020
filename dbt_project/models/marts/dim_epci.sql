{#-
    One row per EPCI (intercommunalité à fiscalité propre) that has a member commune in the
    reference, built from the communes' SIREN; the name comes from reference.epci (null only
    in a warehouse whose reference predates that list).
-#}
with members as (
    select
        siren_epci,
        count(*) as nb_communes,
        sum(population) as population,
        count(distinct code_departement) as nb_departements,
        string_agg(distinct code_departement, '|' order by code_departement) as codes_departements
    from {{ ref('stg_reference__communes') }}
    where siren_epci is not null and type_commune = 'commune-actuelle'
    group by siren_epci
),

names as (
    select * from {{ ref('stg_reference__epci') }}
)

select
    cast(members.siren_epci as varchar) as siren_epci,
    cast(names.nom_epci as varchar) as nom_epci,
    cast(members.nb_communes as integer) as nb_communes,
    cast(members.population as bigint) as population,
    cast(members.nb_departements as integer) as nb_departements,
    cast(members.codes_departements as varchar) as codes_departements
from members
left join names on members.siren_epci = names.siren_epci
