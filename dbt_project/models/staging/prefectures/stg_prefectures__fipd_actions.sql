with source as (
    select * from {{ source('prefectures', 'prefecture_fipd_actions') }}
)

select
    source_file_sha256,
    source_file_name,
    source_row,
    source_sheet,
    loaded_at,
    dag_run_id,
    code_departement,
    annee,
    numero_dossier,
    porteur,
    siret,
    type_porteur,
    intitule_action,
    programme,
    nature,
    codes_qpv,
    zsp as code_zsp,
    part_qpv,
    date_attribution,
    code_commune,
    cast(montant_demande as numeric(14, 2)) as montant_demande,
    cast(montant_attribue as numeric(14, 2)) as montant_attribue
from source
