{#-
    The police-population indicators the contract knows (plugins/vigie/contracts/
    police_population.py: INDICATORS, FORCES), with the label the e-mails use and what the
    weekly check counts as a drop (plugins/vigie/alerts/checks.py: DROP_THRESHOLD, POSTS, and
    the setting VIGIE_POLICE_DROP_MIN_COUNT; labels from plugins/vigie/alerts/indicators.py).
    Every indicator is published for both forces. A new indicator goes in the contract, the
    checks and here: tests/test_warehouse_docs.py compares them.
-#}
{%- set drop_threshold = -0.20 -%}
{%- set minimum = var('police_drop_min_count') | int -%}
{%- set indicators = [
    ('cameras_pietons_dotees', 'caméras piétons en dotation', 'caméras', false),
    ('cameras_pietons_enregistrements', 'enregistrements de caméras piétons', 'enregistrements', false),
    ('delegues_cohesion', 'délégués à la cohésion police-population', 'délégués (postes)', true),
    ('intervenants_sociaux', 'intervenants sociaux en commissariat et gendarmerie', 'intervenants (postes)', true),
    ('signalements_plateforme', 'signalements à la plateforme IGPN/IGGN', 'signalements', false),
    ('actions_rapprochement_jeunes', 'actions de rapprochement avec les jeunes', 'actions', false),
    ('plan_local_communication', 'plan local de communication', '0 ou 1 (plan adopté)', false),
] -%}

with indicators as (
    {%- for code, label, unit, posts in indicators %}
        select
            {{ loop.index }} as ordre,
            '{{ code }}' as indicateur,
            '{{ label }}' as libelle,
            '{{ unit }}' as unite,
            {{ posts }} as baisse_a_zero
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    cast(indicateur as varchar) as indicateur,
    cast(libelle as varchar) as libelle,
    cast(unite as varchar) as unite,
    cast('PN|GN' as varchar) as forces,
    cast({{ drop_threshold }} as double precision) as seuil_baisse,
    cast({{ minimum }} as double precision) as valeur_minimum,
    cast(baisse_a_zero as boolean) as baisse_a_zero,
    cast(
        'évolution sur un an de {{ (drop_threshold * 100) | round | int }} % ou moins (même mois de l''année précédente), '
        || 'depuis une valeur d''au moins {{ minimum }}'
        || case when baisse_a_zero then ' ; ou passage à 0 d''un effectif positif' else '' end
        as varchar
    ) as regle_baisse,
    cast(ordre as integer) as ordre
from indicators
