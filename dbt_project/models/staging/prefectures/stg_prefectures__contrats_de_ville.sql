with source as (
    select * from {{ source('prefectures', 'prefecture_contrats_de_ville') }}
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
    contrat_id,
    nom_contrat,
    siren_epci,
    plan_radicalisation,
    date_adoption_plan,
    nb_qpv
from source
