select
    code_departement,
    nom_departement,
    code_region
from {{ source('reference', 'departements') }}
