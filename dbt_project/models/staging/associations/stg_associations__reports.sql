{#-
    Every row of every association report, history included, without the sensitive
    `nb_situations_radicalisation_orientees` (it stays in the raw layer: docs/domain.md, GDPR
    art. 9/10). The raw table appears when the association DAG first runs; until then this
    view is empty (with the same columns) so the rest of the project still builds.
-#}
{%- set raw_table = source('associations', 'association_reports') -%}

{% if relation_exists(raw_table) %}
    select
        source_file_sha256,
        source_file_name,
        source_row,
        source_sheet,
        loaded_at,
        dag_run_id,
        reseau,
        structure,
        siret,
        code_departement,
        periode,
        code_commune,
        codes_qpv,
        nb_jeunes_accueillis,
        nb_familles_accompagnees,
        nb_actions_collectives,
        nb_professionnels_formes,
        cast(substr(periode, 1, 4) as integer) as annee,
        cast(montant_fipd_recu as numeric(14, 2)) as montant_fipd_recu
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as source_file_sha256,
        cast(null as varchar) as source_file_name,
        cast(null as integer) as source_row,
        cast(null as varchar) as source_sheet,
        cast(null as timestamp with time zone) as loaded_at,
        cast(null as varchar) as dag_run_id,
        cast(null as varchar) as reseau,
        cast(null as varchar) as structure,
        cast(null as varchar) as siret,
        cast(null as varchar) as code_departement,
        cast(null as varchar) as periode,
        cast(null as varchar) as code_commune,
        cast(null as varchar) as codes_qpv,
        cast(null as integer) as nb_jeunes_accueillis,
        cast(null as integer) as nb_familles_accompagnees,
        cast(null as integer) as nb_actions_collectives,
        cast(null as integer) as nb_professionnels_formes,
        cast(null as integer) as annee,
        cast(null as numeric(14, 2)) as montant_fipd_recu
    where 1 = 0
{% endif %}
