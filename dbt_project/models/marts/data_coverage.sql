{#-
    What the warehouse holds of each source, per département and period: one row per source ×
    kind × département × year (période for association reports) of the covered range, whether
    something was received or not, so that "why is 09 missing in 2019" is one query.

    The covered range of a kind runs from the first to the last year any département sent for
    it; every département of the reference gets a row for every year (and, for association
    reports, for the annual période and both semesters of each year) of that range.

    - Prefecture files (`fipd`, `contrats`): one file per département × year is expected (unit
      `file`). Files are attributed by their sender and the years their rows name (a file
      naming two years counts in both); rows and rejects are the live files' (a file
      quarantined whole has no sender: data_freshness counts it under `unknown`).
    - Police-population indicators: a value per month × force × indicator of dim_indicateur is
      expected (unit `value`, 12 × 14 a year); a value counts when its latest publication is
      not null. Police files and API pages mix départements: their rejects are not attributed
      (`rows_rejected` null).
    - Association reports: every structure that reported the previous période of the same
      kind in the département is expected (unit `structure`), plus those that reported this
      one; a structure that reported it from another département is not missing.

    A cell is complete when something was received, everything expected is present and no row
    of its live files was rejected.
-#}
{%- set live = "('loaded', 'loaded_with_rejects')" -%}

with departements as (
    select code_departement from {{ ref('stg_reference__departements') }}
),

calendar as (
    select years.annee
    from (
        values
        {%- for year in range(2000, 2100) %}
            ({{ year }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as years (annee)
),

semesters as (
    select
        semester.suffix,
        semester.semestre
    from (
        values ('', 0), ('-S1', 1), ('-S2', 2)
    ) as semester (suffix, semestre)
),

live_files as (
    select
        source_file_sha256,
        rows_rejected
    from {{ ref('int_audit__live_files') }}
),

{# Prefecture files: each year a file's rows name (period '2019,2020' counts in both). #}
prefecture_file_years as (
    select
        files.kind,
        files.sender as code_departement,
        files.source_file_sha256,
        files.received_at,
        live_files.rows_rejected as live_rows_rejected,
        unnest(string_to_array(files.period, ',')) as periode
    from {{ ref('stg_audit__file_loads') }} as files
    left join live_files on files.source_file_sha256 = live_files.source_file_sha256
    where
        files.source = 'prefectures'
        and files.status != 'duplicate'
        and files.sender is not null
        and files.period is not null
),

prefecture_files as (
    select
        kind,
        code_departement,
        cast(periode as integer) as annee,
        count(distinct source_file_sha256) as nb_files,
        sum(coalesce(live_rows_rejected, 0)) as rows_rejected,
        max(received_at) as last_received_at
    from prefecture_file_years
    group by kind, code_departement, cast(periode as integer)
),

prefecture_rows as (
    select
        'fipd' as kind,
        code_departement,
        annee,
        count(*) as rows_loaded
    from {{ ref('int_fipd_actions__current') }}
    group by code_departement, annee

    union all

    select
        'contrats' as kind,
        code_departement,
        annee,
        count(*) as rows_loaded
    from {{ ref('int_prefectures__contrats_de_ville_current') }}
    group by code_departement, annee
),

prefecture_range as (
    select
        kind,
        min(annee) as first_year,
        max(annee) as last_year
    from (
        select
            kind,
            annee
        from prefecture_files
        union all
        select
            kind,
            annee
        from prefecture_rows
    ) as years_seen
    group by kind
),

prefecture_cells as (
    select
        'prefectures' as source,
        prefecture_range.kind,
        departements.code_departement,
        calendar.annee,
        cast(calendar.annee as varchar) as periode,
        'file' as unit,
        1 as nb_expected,
        case when coalesce(prefecture_rows.rows_loaded, 0) > 0 then 1 else 0 end as nb_present,
        coalesce(prefecture_files.nb_files, 0) as nb_files,
        coalesce(prefecture_rows.rows_loaded, 0) as rows_loaded,
        coalesce(prefecture_files.rows_rejected, 0) as rows_rejected,
        prefecture_files.last_received_at
    from prefecture_range
    inner join calendar on calendar.annee between prefecture_range.first_year and prefecture_range.last_year
    cross join departements
    left join prefecture_files
        on
            prefecture_range.kind = prefecture_files.kind
            and departements.code_departement = prefecture_files.code_departement
            and calendar.annee = prefecture_files.annee
    left join prefecture_rows
        on
            prefecture_range.kind = prefecture_rows.kind
            and departements.code_departement = prefecture_rows.code_departement
            and calendar.annee = prefecture_rows.annee
),

{# Police: the publications received, and the latest values present, per département × year. #}
police_publications as (
    select
        code_departement,
        cast(substr(mois_code, 1, 4) as integer) as annee,
        count(*) as rows_loaded,
        count(distinct source_file_sha256) as nb_files,
        max(loaded_at) as last_received_at
    from {{ ref('stg_police__indicators') }}
    group by code_departement, cast(substr(mois_code, 1, 4) as integer)
),

police_expected as (
    select 12 * sum(length(forces) - length(replace(forces, '|', '')) + 1) as nb_expected
    from {{ ref('dim_indicateur') }}
),

police_values as (
    select
        monthly.code_departement,
        cast(extract(year from monthly.mois) as integer) as annee,
        count(*) as nb_present
    from {{ ref('police_population_monthly') }} as monthly
    inner join {{ ref('dim_indicateur') }} as indicateurs on monthly.indicateur = indicateurs.indicateur
    where monthly.valeur is not null
    group by monthly.code_departement, cast(extract(year from monthly.mois) as integer)
),

police_range as (
    select
        min(annee) as first_year,
        max(annee) as last_year
    from police_publications
),

police_cells as (
    select
        'police_population' as source,
        'indicateurs' as kind,
        departements.code_departement,
        calendar.annee,
        cast(calendar.annee as varchar) as periode,
        'value' as unit,
        police_expected.nb_expected,
        coalesce(police_values.nb_present, 0) as nb_present,
        coalesce(police_publications.nb_files, 0) as nb_files,
        coalesce(police_publications.rows_loaded, 0) as rows_loaded,
        cast(null as bigint) as rows_rejected,
        police_publications.last_received_at
    from police_range
    inner join calendar on calendar.annee between police_range.first_year and police_range.last_year
    cross join departements
    cross join police_expected
    left join police_publications
        on
            departements.code_departement = police_publications.code_departement
            and calendar.annee = police_publications.annee
    left join police_values
        on
            departements.code_departement = police_values.code_departement
            and calendar.annee = police_values.annee
),

{# Associations: who reported each période, and who was expected to. #}
reporters as (
    select distinct
        code_departement,
        periode,
        siret
    from {{ ref('int_associations__reports_current') }}
),

expected_next as (
    select
        code_departement,
        siret,
        case
            when periode like '%-S1' then substr(periode, 1, 4) || '-S2'
            when periode like '%-S2' then cast(cast(substr(periode, 1, 4) as integer) + 1 as varchar) || '-S1'
            else cast(cast(periode as integer) + 1 as varchar)
        end as periode
    from reporters
),

missing as (
    select
        expected_next.code_departement,
        expected_next.periode,
        count(distinct expected_next.siret) as nb_missing
    from expected_next
    where
        not exists (
            select 1
            from reporters
            where reporters.siret = expected_next.siret and reporters.periode = expected_next.periode
        )
    group by expected_next.code_departement, expected_next.periode
),

association_rows as (
    select
        code_departement,
        periode,
        count(*) as rows_loaded,
        count(distinct siret) as nb_structures
    from {{ ref('int_associations__reports_current') }}
    group by code_departement, periode
),

association_rejects as (
    select
        reports.code_departement,
        reports.periode,
        sum(live_files.rows_rejected) as rows_rejected
    from (
        select distinct
            code_departement,
            periode,
            source_file_sha256
        from {{ ref('int_associations__reports_current') }}
    ) as reports
    inner join live_files on reports.source_file_sha256 = live_files.source_file_sha256
    group by reports.code_departement, reports.periode
),

association_files as (
    select
        code_departement,
        periode,
        count(distinct source_file_sha256) as nb_files,
        max(loaded_at) as last_received_at
    from {{ ref('stg_associations__reports') }}
    group by code_departement, periode
),

association_range as (
    select
        min(cast(substr(periode, 1, 4) as integer)) as first_year,
        max(cast(substr(periode, 1, 4) as integer)) as last_year
    from association_files
),

association_periodes as (
    select
        calendar.annee,
        cast(calendar.annee as varchar) || semesters.suffix as periode
    from association_range
    inner join calendar on calendar.annee between association_range.first_year and association_range.last_year
    cross join semesters
),

association_cells as (
    select
        'associations' as source,
        'rapport_activite' as kind,
        departements.code_departement,
        association_periodes.annee,
        association_periodes.periode,
        'structure' as unit,
        coalesce(association_rows.nb_structures, 0) + coalesce(missing.nb_missing, 0) as nb_expected,
        coalesce(association_rows.nb_structures, 0) as nb_present,
        coalesce(association_files.nb_files, 0) as nb_files,
        coalesce(association_rows.rows_loaded, 0) as rows_loaded,
        coalesce(association_rejects.rows_rejected, 0) as rows_rejected,
        association_files.last_received_at
    from association_periodes
    cross join departements
    left join association_rows
        on
            departements.code_departement = association_rows.code_departement
            and association_periodes.periode = association_rows.periode
    left join missing
        on
            departements.code_departement = missing.code_departement
            and association_periodes.periode = missing.periode
    left join association_rejects
        on
            departements.code_departement = association_rejects.code_departement
            and association_periodes.periode = association_rejects.periode
    left join association_files
        on
            departements.code_departement = association_files.code_departement
            and association_periodes.periode = association_files.periode
),

cells as (
    select * from prefecture_cells
    union all
    select * from police_cells
    union all
    select * from association_cells
),

judged as (
    select
        cells.*,
        (
            cells.rows_loaded > 0
            and cells.nb_present >= cells.nb_expected
            and coalesce(cells.rows_rejected, 0) = 0
        ) as is_complete
    from cells
)

select
    cast(source as varchar) as source,
    cast(kind as varchar) as kind,
    cast(code_departement as varchar) as code_departement,
    cast(annee as integer) as annee,
    cast(periode as varchar) as periode,
    cast(case
        when rows_loaded = 0 then 'not_received'
        when is_complete then 'complete'
        else 'partial'
    end as varchar) as status,
    cast(rows_loaded > 0 as boolean) as is_received,
    cast(is_complete as boolean) as is_complete,
    cast(case
        when rows_loaded = 0 and nb_files = 0 then 'nothing received'
        when rows_loaded = 0 then 'files received, no row of them live'
        when not is_complete
            then concat_ws(
                '; ',
                case
                    when nb_present < nb_expected
                        then concat(cast(nb_expected - nb_present as varchar), ' of ', cast(nb_expected as varchar), ' ', unit, 's missing')
                end,
                case when rows_rejected > 0 then cast(rows_rejected as varchar) || ' rows rejected' end
            )
    end as varchar) as missing_detail,
    cast(unit as varchar) as unit,
    cast(nb_expected as integer) as nb_expected,
    cast(nb_present as integer) as nb_present,
    cast(nb_files as integer) as nb_files,
    cast(rows_loaded as bigint) as rows_loaded,
    cast(rows_rejected as bigint) as rows_rejected,
    cast(last_received_at as timestamp with time zone) as last_received_at
from judged
