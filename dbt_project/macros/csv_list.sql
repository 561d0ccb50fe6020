{#- A comma-separated setting as a SQL list of string literals: 'D,R' -> ('D', 'R'). -#}
{% macro csv_list(value) -%}
    {%- set items = value.split(',') | map('trim') | reject('equalto', '') | list -%}
    {%- if items -%}
        ({% for item in items %}'{{ item }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- else -%}
        ('')
    {%- endif -%}
{%- endmacro %}

{#- The same setting as one normalised text, items trimmed and comma-joined: ' D , R ' -> 'D,R'. -#}
{% macro csv_text(value) -%}
    {{- value.split(',') | map('trim') | reject('equalto', '') | join(',') -}}
{%- endmacro %}
