{#-
    Association activity per département × période × réseau, plus one row per département ×
    période with `reseau = 'TOUS'` (all networks). Only live reports count
    (int_associations__reports_current): a report superseded by a newer one for the same
    SIRET and période stays in staging as history.

    Counts about people (`nb_jeunes_accueillis`, `nb_familles_accompagnees`,
    `nb_professionnels_formes`) are text: the figure, or `< 11` when it is below the
    suppression threshold (var `suppression_threshold`, the VIGIE_SUPPRESSION_THRESHOLD
    setting). Secondary suppression, so that no suppressed cell can be recomputed from the
    `TOUS` row: within a département × période, when exactly one réseau cell of a measure is
    suppressed, the smallest other réseau cell of that measure (ties: réseau code) is
    suppressed too. With two or more suppressed cells the total only gives their sum. A
    `TOUS` cell below the threshold is itself suppressed (then every réseau cell is too).
    `nb_structures` and `nb_actions_collectives` count organisations and actions, not people,
    and are shown as numbers.
-#}
{%- set threshold = suppression_threshold() -%}
{%- set people = ['nb_jeunes_accueillis', 'nb_familles_accompagnees', 'nb_professionnels_formes'] -%}
{%- set hidden = "'< " ~ threshold ~ "'" -%}

with live as (
    select * from {{ ref('int_associations__reports_current') }}
),

cells as (
    select
        code_departement,
        periode,
        reseau,
        {%- for measure in people %}
            cast(sum({{ measure }}) as bigint) as {{ measure }},
        {%- endfor %}
        cast(count(distinct siret) as bigint) as nb_structures,
        cast(sum(nb_actions_collectives) as bigint) as nb_actions_collectives,
        cast(sum(montant_fipd_recu) as numeric(14, 2)) as montant_fipd_recu
    from live
    group by code_departement, periode, reseau
),

totals as (
    select
        code_departement,
        periode,
        'TOUS' as reseau,
        {%- for measure in people %}
            cast(sum({{ measure }}) as bigint) as {{ measure }},
        {%- endfor %}
        cast(count(distinct siret) as bigint) as nb_structures,
        cast(sum(nb_actions_collectives) as bigint) as nb_actions_collectives,
        cast(sum(montant_fipd_recu) as numeric(14, 2)) as montant_fipd_recu
    from live
    group by code_departement, periode
),

primary_flags as (
    select
        {%- for measure in people %}
            coalesce(cells.{{ measure }} < {{ threshold }}, false) as {{ measure }}_primary,
        {%- endfor %}
        cells.*
    from cells
),

ranked as (
    select
        {%- for measure in people %}
            sum(case when primary_flags.{{ measure }}_primary then 1 else 0 end) over (
                partition by primary_flags.code_departement, primary_flags.periode
            ) as {{ measure }}_n_primary,
            row_number() over (
                partition by primary_flags.code_departement, primary_flags.periode
                order by
                    case when primary_flags.{{ measure }}_primary or primary_flags.{{ measure }} is null then 1 else 0 end,
                    primary_flags.{{ measure }},
                    primary_flags.reseau
            ) as {{ measure }}_rank,
        {%- endfor %}
        primary_flags.*
    from primary_flags
),

suppressed as (
    select
        {%- for measure in people %}
            ranked.{{ measure }},
            (
                ranked.{{ measure }}_primary
                or (ranked.{{ measure }}_n_primary = 1 and ranked.{{ measure }}_rank = 1 and ranked.{{ measure }} is not null)
            ) as {{ measure }}_suppressed,
        {%- endfor %}
        ranked.code_departement,
        ranked.periode,
        ranked.reseau,
        ranked.nb_structures,
        ranked.nb_actions_collectives,
        ranked.montant_fipd_recu
    from ranked

    union all

    select
        {%- for measure in people %}
            totals.{{ measure }},
            coalesce(totals.{{ measure }} < {{ threshold }}, false) as {{ measure }}_suppressed,
        {%- endfor %}
        totals.code_departement,
        totals.periode,
        totals.reseau,
        totals.nb_structures,
        totals.nb_actions_collectives,
        totals.montant_fipd_recu
    from totals
)

{#- Every column cast to its contract type: the same types on DuckDB and PostgreSQL. #}
select
    cast(code_departement as varchar) as code_departement,
    cast(periode as varchar) as periode,
    cast(reseau as varchar) as reseau,
    cast(nb_structures as bigint) as nb_structures,
    {%- for measure in people %}
        cast(case when {{ measure }}_suppressed then {{ hidden }} else cast({{ measure }} as varchar) end as varchar) as {{ measure }},
    {%- endfor %}
    cast(nb_actions_collectives as bigint) as nb_actions_collectives,
    cast(montant_fipd_recu as numeric(14, 2)) as montant_fipd_recu,
    cast(substr(periode, 1, 4) as integer) as annee,
    cast(
        0
        {%- for measure in people %}
            + case when {{ measure }}_suppressed then 1 else 0 end
        {%- endfor %}
        as integer
    ) as nb_cells_suppressed
from suppressed
