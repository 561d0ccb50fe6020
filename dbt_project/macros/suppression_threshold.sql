{#-
    The smallest count about people a model may show: var `suppression_threshold`, read from
    the VIGIE_SUPPRESSION_THRESHOLD setting (docs/outputs.md). Anything but a whole
    number >= 1 stops the run rather than publishing counts unprotected.
-#}
{% macro suppression_threshold() -%}
    {%- set raw = var('suppression_threshold') | string -%}
    {%- set value = raw | int(-1) -%}
    {%- if value < 1 and execute -%}
        {{ exceptions.raise_compiler_error("suppression_threshold must be a whole number >= 1, got '" ~ raw ~ "'") }}
    {%- endif -%}
    {{ return([value, 1] | max) }}
{%- endmacro %}
