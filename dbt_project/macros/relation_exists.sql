{#-
    True when the relation exists in the warehouse (false at parse time). For sources that
    appear only once their ingestion DAG has run: a model can then build empty instead of
    failing the whole project.
-#}
{% macro relation_exists(relation) -%}
    {%- if execute -%}
        {{ return(adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        ) is not none) }}
    {%- else -%}
        {{ return(false) }}
    {%- endif -%}
{%- endmacro %}
