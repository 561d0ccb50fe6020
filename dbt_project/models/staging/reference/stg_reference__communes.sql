select
    code_commune,
    nom_commune,
    code_departement,
    type as type_commune,
    cast(population as bigint) as population,
    siren_epci
from {{ source('reference', 'communes') }}
