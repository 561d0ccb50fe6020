{#-
    One row per (funded action, QPV it names): what lets an analyst sum FIPD amounts per
    quartier. An action naming several QPV appears once per QPV, so amounts must not be summed
    across QPV of one action (montant_attribue is the whole action's amount).
-#}
with actions as (
    select
        code_departement,
        annee,
        numero_dossier,
        in_scope,
        montant_attribue,
        unnest(string_to_array(codes_qpv, '|')) as code_qpv
    from {{ ref('int_fipd_actions__current') }}
    where codes_qpv is not null
)

select
    cast(code_departement as varchar) as code_departement,
    cast(annee as integer) as annee,
    cast(numero_dossier as varchar) as numero_dossier,
    cast(code_qpv as varchar) as code_qpv,
    cast(in_scope as boolean) as in_scope,
    cast(montant_attribue as numeric(14, 2)) as montant_attribue
from actions
