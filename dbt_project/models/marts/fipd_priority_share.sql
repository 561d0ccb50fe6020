{#-
    FIPD priority share per département × year, and nationally (code 'FR'), both measures. The
    scope (which programmes count, which natures are left out) is a setting
    (VIGIE_FIPD_SCOPE_PROGRAMMES, VIGIE_FIPD_SCOPE_EXCLUDED_NATURES, dbt vars
    `fipd_scope_programmes`, `fipd_scope_excluded_natures`): every row says which it was built with.
-#}
{%- set target = var('fipd_target') | float -%}
{%- set scope_programmes = csv_text(var('fipd_scope_programmes')) -%}
{%- set scope_natures_excluded = csv_text(var('fipd_scope_excluded_natures')) -%}
with actions as (
    select * from {{ ref('int_fipd_actions__current') }}
    where in_scope
),

departements as (
    select * from {{ ref('stg_reference__departements') }}
),

years as (
    select distinct annee from {{ ref('int_fipd_actions__current') }}
),

by_departement as (
    select
        code_departement,
        annee,
        count(*) as nb_actions_scope,
        sum(montant_attribue) as montant_scope,
        sum(counted_located) as montant_located,
        sum(counted_beneficiaries) as montant_beneficiaries
    from actions
    group by code_departement, annee
),

departement_rows as (
    select
        departements.code_departement,
        departements.nom_departement,
        years.annee,
        coalesce(by_departement.nb_actions_scope, 0) as nb_actions_scope,
        coalesce(by_departement.montant_scope, 0) as montant_scope,
        coalesce(by_departement.montant_located, 0) as montant_located,
        coalesce(by_departement.montant_beneficiaries, 0) as montant_beneficiaries
    from departements
    cross join years
    left join by_departement
        on
            departements.code_departement = by_departement.code_departement
            and years.annee = by_departement.annee
),

national_rows as (
    select
        'FR' as code_departement,
        'France' as nom_departement,
        annee,
        sum(nb_actions_scope) as nb_actions_scope,
        sum(montant_scope) as montant_scope,
        sum(montant_located) as montant_located,
        sum(montant_beneficiaries) as montant_beneficiaries
    from departement_rows
    group by annee
),

all_rows as (
    select * from departement_rows
    union all
    select * from national_rows
)

select
    cast(code_departement as varchar) as code_departement,
    cast(nom_departement as varchar) as nom_departement,
    cast(annee as integer) as annee,
    cast(nb_actions_scope as integer) as nb_actions_scope,
    cast(montant_scope as numeric(16, 2)) as montant_scope,
    cast(montant_located as numeric(16, 2)) as montant_located,
    cast(montant_beneficiaries as numeric(16, 2)) as montant_beneficiaries,
    cast(case
        when montant_scope > 0 then cast(montant_located as double precision) / cast(montant_scope as double precision)
    end as double precision) as share_located,
    cast(case
        when montant_scope > 0 then cast(montant_beneficiaries as double precision) / cast(montant_scope as double precision)
    end as double precision) as share_beneficiaries,
    cast({{ target }} as double precision) as target,
    cast(case
        when montant_scope > 0 then greatest(0, {{ target }} * montant_scope - montant_located)
    end as numeric(16, 2)) as gap_eur,
    cast(case
        when montant_scope = 0 then 'no_data'
        when montant_located < {{ target }} * montant_scope then 'below_target'
        else 'ok'
    end as varchar) as status,
    cast('{{ scope_programmes }}' as varchar) as scope_programmes,
    cast('{{ scope_natures_excluded }}' as varchar) as scope_natures_excluded
from all_rows
