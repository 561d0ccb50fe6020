{#- One row per zone de sécurité prioritaire. -#}
select
    cast(code_zsp as varchar) as code_zsp,
    cast(nom_zsp as varchar) as nom_zsp,
    cast(code_departement as varchar) as code_departement,
    cast(codes_communes as varchar) as codes_communes,
    cast(length(codes_communes) - length(replace(codes_communes, '|', '')) + 1 as integer) as nb_communes,
    cast(force as varchar) as force,
    cast(date_creation as date) as date_creation,
    cast(extract(year from date_creation) as integer) as annee_creation
from {{ ref('stg_reference__zsp') }}
