select
    code_zsp,
    nom_zsp,
    code_departement,
    codes_communes,
    force,
    cast(date_creation as date) as date_creation
from {{ source('reference', 'zsp') }}
