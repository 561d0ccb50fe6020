{#-
    The analysts' read-only access, run as an on-run-end hook (dbt_project.yml) so every build
    leaves it right: dbt recreates the mart tables, which drops their grants. Idempotent: the
    group role is created once (NOLOGIN: analysts log in with their own roles, granted
    membership), `marts` is granted, and anything the role holds elsewhere (raw rows, audit,
    reference, staging) is revoked. Also runnable alone: `dbt run-operation grant_analyst_access`.
    The grant is the whole schema: every mart, new ones included, the views (dim_periode) and
    the table dbt does not build (weekly_alerts, written by the weekly checks) alike. Private
    tables stay out of `marts`: the e-mail log's addresses are counted, not copied
    (email_sends_weekly).
    Serialised by an advisory lock: parallel model tasks each run the hook.
-#}
{% macro grant_analyst_access() -%}
    {{ return(adapter.dispatch('grant_analyst_access', 'vigie')()) }}
{%- endmacro %}

{#- DuckDB has no roles: analysts open the warehouse file read-only (see the README). -#}
{% macro default__grant_analyst_access() -%}
{%- endmacro %}

{% macro postgres__grant_analyst_access() -%}
    {%- set role = var('analyst_role') -%}
    {%- set private_schemas = ['raw', 'audit', 'reference', 'staging', 'intermediate', 'audit_test_failures'] -%}
    {%- set sql -%}
do $vigie$
declare
    private_schema text;
begin
    -- Cosmos runs one dbt invocation per model, several at once on PostgreSQL: their hooks
    -- would grant on the same catalog rows together ("tuple concurrently updated").
    perform pg_advisory_xact_lock(hashtext('vigie.grant_analyst_access'));
    -- Created once, by whoever may: PostgreSQL checks CREATEROLE before it looks for the role,
    -- so a warehouse owner without it (compose's `vigie`) must not even try when it exists.
    if not exists (select 1 from pg_roles where rolname = '{{ role }}') then
        begin
            create role {{ role }} nologin;
        exception when duplicate_object or unique_violation then null;
        end;
    end if;
    create schema if not exists marts;
    grant usage on schema marts to {{ role }};
    grant select on all tables in schema marts to {{ role }};
    alter default privileges in schema marts grant select on tables to {{ role }};
    foreach private_schema in array array[{% for s in private_schemas %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %}] loop
        if exists (select 1 from pg_namespace where nspname = private_schema) then
            execute format('revoke all on all tables in schema %I from %I', private_schema, '{{ role }}');
            execute format('revoke all on schema %I from %I', private_schema, '{{ role }}');
        end if;
    end loop;
end
$vigie$;
    {%- endset -%}
    {%- if flags.WHICH == 'run-operation' -%}
        {%- do run_query(sql) -%}
        {{ log('analyst role ' ~ role ~ ': read-only on marts', info=true) }}
    {%- else -%}
        {{ return(sql) }}
    {%- endif -%}
{%- endmacro %}
