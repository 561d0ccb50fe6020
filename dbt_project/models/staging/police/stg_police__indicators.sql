{#-
    Every publication of every indicator, history included. The raw table appears when the
    police-population DAG first runs; until then this view is empty (with the same columns) so
    the rest of the project still builds.

    `publication_id`, the row's key, is built from its lineage: a CSV row is its file and row;
    an API row has no row number, but the loader never inserts an API publication already held
    (same département, month, force, indicator, publication time and value), so those name it.
-#}
{%- set raw_table = source('police', 'police_population_indicators') -%}

{% if relation_exists(raw_table) %}
    select
        md5(
            case
                when source = 'api'
                    then concat_ws(
                        '|', 'api', code_departement, mois, force, indicateur,
                        cast(publie_le as varchar), coalesce(cast(valeur as varchar), '')
                    )
                else concat_ws('|', 'file', source_file_sha256, cast(source_row as varchar))
            end
        ) as publication_id,
        code_departement,
        mois as mois_code,
        force,
        indicateur,
        valeur,
        publie_le,
        source,
        request_url,
        page,
        fetched_at,
        fetch_id,
        source_file_sha256,
        source_file_name,
        source_row,
        loaded_at,
        dag_run_id,
        cast(mois || '-01' as date) as mois
    from {{ raw_table }}
{% else %}
    select
        cast(null as varchar) as publication_id,
        cast(null as varchar) as code_departement,
        cast(null as varchar) as mois_code,
        cast(null as varchar) as force,
        cast(null as varchar) as indicateur,
        cast(null as double precision) as valeur,
        cast(null as timestamp with time zone) as publie_le,
        cast(null as varchar) as source,
        cast(null as varchar) as request_url,
        cast(null as integer) as page,
        cast(null as timestamp with time zone) as fetched_at,
        cast(null as varchar) as fetch_id,
        cast(null as varchar) as source_file_sha256,
        cast(null as varchar) as source_file_name,
        cast(null as integer) as source_row,
        cast(null as timestamp with time zone) as loaded_at,
        cast(null as varchar) as dag_run_id,
        cast(null as date) as mois
    where 1 = 0
{% endif %}
