select
    code_qpv,
    nom_qpv,
    geographie,
    code_departement,
    codes_communes
from {{ source('reference', 'qpv') }}
