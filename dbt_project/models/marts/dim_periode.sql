{#-
    The association reporting periods (périodes des rapports d'activité): each year of the
    contract's range (2010-2039, docs/contracts/associations.md) as an annual période and its
    two semesters. A report is due `report_grace_days` after its période ends (60 days, as
    the weekly check: vigie.alerts.checks.REPORT_GRACE_DAYS). A view: its flags say where
    each période stands today (or on var `periode_as_of`, for tests), without a rebuild.
-#}
{{ config(materialized='view') }}
{%- set grace_days = var('report_grace_days') | int -%}
{%- set as_of = var('periode_as_of', '') | string -%}
{%- set first_year = var('periode_first_year', 2010) | int -%}
{%- set last_year = var('periode_last_year', 2039) | int -%}

with years as (
    select calendar.annee
    from (
        values
        {%- for year in range(first_year, last_year + 1) %}
            ({{ year }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as calendar (annee)
),

kinds as (
    select
        kind.type_periode,
        kind.semestre,
        kind.debut,
        kind.fin
    from (
        values
        ('annuelle', cast(null as integer), '-01-01', '-12-31'),
        ('semestrielle', 1, '-01-01', '-06-30'),
        ('semestrielle', 2, '-07-01', '-12-31')
    ) as kind (type_periode, semestre, debut, fin)
),

periodes as (
    select
        years.annee,
        kinds.type_periode,
        kinds.semestre,
        cast(years.annee as varchar)
        || case when kinds.semestre is null then '' else '-S' || cast(kinds.semestre as varchar) end as periode,
        cast(cast(years.annee as varchar) || kinds.debut as date) as date_debut,
        cast(cast(years.annee as varchar) || kinds.fin as date) as date_fin
    from years
    cross join kinds
),

dated as (
    select
        periodes.*,
        cast(periodes.date_fin + {{ grace_days }} as date) as date_limite,
        {% if as_of %}cast('{{ as_of }}' as date){% else %}current_date{% endif %} as date_reference
    from periodes
)

select
    cast(periode as varchar) as periode,
    cast(type_periode as varchar) as type_periode,
    cast(annee as integer) as annee,
    cast(semestre as integer) as semestre,
    cast(date_debut as date) as date_debut,
    cast(date_fin as date) as date_fin,
    cast(date_limite as date) as date_limite,
    cast({{ grace_days }} as integer) as delai_jours,
    cast(case
        when semestre = 2 then cast(annee as varchar) || '-S1'
        when semestre = 1 then cast(annee - 1 as varchar) || '-S2'
        else cast(annee - 1 as varchar)
    end as varchar) as periode_precedente,
    cast(date_reference as date) as date_reference,
    cast(date_fin < date_reference as boolean) as is_ended,
    cast(date_limite <= date_reference as boolean) as is_complete
from dated
