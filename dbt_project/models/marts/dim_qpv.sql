{#-
    One row per QPV of either geography. `premiere_annee` / `derniere_annee` are the budget
    years measured against it (the boundary is the setting VIGIE_QPV_2024_FROM_YEAR); the
    other geography's QPV it overlaps come from the ANCT correspondence when it is loaded.
-#}
{%- set qpv_2024_from_year = var('qpv_2024_from_year') | int -%}
with qpv as (
    select * from {{ ref('stg_reference__qpv') }}
),

links as (
    select
        code_qpv_2024 as code_qpv,
        code_qpv_2015 as linked_code
    from {{ ref('stg_reference__qpv_correspondance') }}
    union all
    select
        code_qpv_2015 as code_qpv,
        code_qpv_2024 as linked_code
    from {{ ref('stg_reference__qpv_correspondance') }}
),

linked as (
    select
        code_qpv,
        string_agg(distinct linked_code, '|' order by linked_code) as codes_qpv_autre_geographie
    from links
    group by code_qpv
)

select
    cast(qpv.code_qpv as varchar) as code_qpv,
    cast(qpv.nom_qpv as varchar) as nom_qpv,
    cast(qpv.geographie as varchar) as geographie,
    cast(qpv.code_departement as varchar) as code_departement,
    cast(qpv.codes_communes as varchar) as codes_communes,
    cast(length(qpv.codes_communes) - length(replace(qpv.codes_communes, '|', '')) + 1 as integer) as nb_communes,
    cast(case when qpv.geographie = '2024' then {{ qpv_2024_from_year }} else 2015 end as integer) as premiere_annee,
    cast(case when qpv.geographie = '2015' then {{ qpv_2024_from_year - 1 }} end as integer) as derniere_annee,
    cast(linked.codes_qpv_autre_geographie as varchar) as codes_qpv_autre_geographie
from qpv
left join linked on qpv.code_qpv = linked.code_qpv
