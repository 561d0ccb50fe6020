{#-
    The live rows (superseded files left out) with the scope flag, the QPV geography the year is
    measured against, and both counted amounts. An action counts as located when it names a ZSP
    or a QPV of that year's geography (2015 list before `qpv_2024_from_year`, 2024 list from
    then on): validation already refuses the other geography's codes, this keeps the measure
    right even if a row slipped through.
-#}
{%- set qpv_2024_from_year = var('qpv_2024_from_year') | int -%}
with actions as (
    select * from {{ ref('stg_prefectures__fipd_actions') }}
),

live_files as (
    select source_file_sha256
    from {{ ref('int_audit__live_files') }}
    where source = 'prefectures' and kind = 'fipd'
),

flagged as (
    select
        actions.*,
        (
            actions.programme in {{ csv_list(var('fipd_scope_programmes')) }}
            and coalesce(actions.nature, '') not in {{ csv_list(var('fipd_scope_excluded_natures')) }}
        ) as in_scope,
        case when actions.annee >= {{ qpv_2024_from_year }} then '2024' else '2015' end as qpv_geographie
    from actions
    inner join live_files on actions.source_file_sha256 = live_files.source_file_sha256
),

located as (
    select
        flagged.*,
        (
            flagged.code_zsp is not null
            or ('|' || coalesce(flagged.codes_qpv, '')) like (
                case when flagged.qpv_geographie = '2024' then '%|QN%' else '%|QP%' end
            )
        ) as is_located
    from flagged
)

select
    located.*,
    cast(case when located.is_located then located.montant_attribue else 0 end as numeric(14, 2)) as counted_located,
    cast(case
        when located.part_qpv is not null
            then round(located.montant_attribue * cast(located.part_qpv as numeric(9, 6)), 2)
        when located.is_located then located.montant_attribue
        else 0
    end as numeric(14, 2)) as counted_beneficiaries
from located
