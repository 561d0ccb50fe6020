{#-
    One row per (priority territory, commune): QPV of both geographies and ZSP, from their
    `|`-joined commune lists. What dim_commune counts and what relates territories to communes.
-#}
with qpv as (
    select
        'qpv' as territory_type,
        code_qpv as territory_code,
        geographie,
        code_departement,
        unnest(string_to_array(codes_communes, '|')) as code_commune
    from {{ ref('stg_reference__qpv') }}
),

zsp as (
    select
        'zsp' as territory_type,
        code_zsp as territory_code,
        cast(null as varchar) as geographie,
        code_departement,
        unnest(string_to_array(codes_communes, '|')) as code_commune
    from {{ ref('stg_reference__zsp') }}
)

select * from qpv
union all
select * from zsp
