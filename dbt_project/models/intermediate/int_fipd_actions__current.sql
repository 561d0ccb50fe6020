{#- The live rows (superseded files left out) with the scope flag and both counted amounts. -#}
with actions as (
    select * from {{ ref('stg_prefectures__fipd_actions') }}
),

live_files as (
    select source_file_sha256
    from {{ ref('stg_audit__file_loads') }}
    where kind = 'fipd' and status in ('loaded', 'loaded_with_rejects')
),

flagged as (
    select
        actions.*,
        (
            actions.programme in {{ csv_list(var('fipd_scope_programmes')) }}
            and coalesce(actions.nature, '') not in {{ csv_list(var('fipd_scope_excluded_natures')) }}
        ) as in_scope,
        (actions.codes_qpv is not null or actions.code_zsp is not null) as is_located
    from actions
    inner join live_files on actions.source_file_sha256 = live_files.source_file_sha256
)

select
    flagged.*,
    case when flagged.is_located then flagged.montant_attribue else 0 end as counted_located,
    case
        when flagged.part_qpv is not null
            then cast(round(flagged.montant_attribue * cast(flagged.part_qpv as numeric(9, 6)), 2) as numeric(14, 2))
        when flagged.is_located then flagged.montant_attribue
        else 0
    end as counted_beneficiaries
from flagged
