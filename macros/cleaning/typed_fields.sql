{#- Typing a parsed document's fields from a spec, with nothing silently lost: a field that is present
    but cannot be used (wrong JSON type, not a real date, outside its valid range, not matching its
    pattern) becomes NULL, and its name is listed in the row's `invalid_fields`.

    spec: an ordered list of fields, each a dict with
      key      the field's name in the TMDB document
      type     text | bigint | double | boolean | date | array | object
      check    (optional) SQL condition on `{value}` the typed value must meet, e.g. '{value} >= 0'
      pattern  (optional, text only) regular expression the whole text must match
    The empty string is a placeholder ("no value", see null_if_blank), not an invalid value. -#}

{#- The typed columns, one per field, named after the document key, as select-list items. -#}
{% macro typed_fields(parsed, spec) -%}
    {%- for field in spec %}
    {{ tmdb.typed_field(parsed ~ '.' ~ field.key, field) }} as {{ field.key }}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro typed_field(json_value, field) -%}
    {%- if field.type == 'date' -%}
        {%- set value = tmdb.parse_iso_date(tmdb.null_if_blank(tmdb.json_value_as(json_value, 'text'))) -%}
    {%- elif field.type == 'text' -%}
        {%- set value = tmdb.null_if_blank(tmdb.json_value_as(json_value, 'text')) -%}
    {%- else -%}
        {%- set value = tmdb.json_value_as(json_value, field.type) -%}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if field.get('pattern') -%}
        {%- do conditions.append(tmdb.regex_full_match(value, field.pattern)) -%}
    {%- endif -%}
    {%- if field.get('check') -%}
        {%- do conditions.append(field.check | replace('{value}', value)) -%}
    {%- endif -%}
    {%- if conditions -%}
        case when {{ conditions | join(' and ') }} then {{ value }} end
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}

{#- The `invalid_fields` expression: names (comma-separated) of the fields that were present, not a
    placeholder, and still NULL after typing. Reads the typed columns, so select it one CTE later.
    extra_flags: more expressions giving a name or NULL (e.g. invalid_element), listed first. -#}
{% macro invalid_fields(parsed, spec, extra_flags=[]) -%}
    {%- set flags = [] + extra_flags -%}
    {%- for field in spec -%}
        {%- set json_value = parsed ~ '.' ~ field.key -%}
        {%- do flags.append(
            "case when " ~ json_value ~ " is not null and " ~ field.key ~ " is null and not "
            ~ tmdb.json_value_is_empty_string(json_value) ~ " then '" ~ field.key ~ "' end"
        ) -%}
    {%- endfor -%}
    {{ tmdb.join_non_null(flags) }}
{%- endmacro %}

{#- The document keys of a spec, for json_parse_fields. -#}
{% macro spec_keys(spec) -%}
    {%- set keys = [] -%}
    {%- for field in spec -%}{%- do keys.append(field.key) -%}{%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}

{#- For an unnested array element: 'element' when it is not a JSON object (e.g. a bare string or number
    where an object such as {"id": 18, "name": "Drama"} is expected), else NULL. -#}
{% macro invalid_element(element_json) -%}
    case when {{ tmdb.json_value_as(element_json, 'object') }} is null then 'element' end
{%- endmacro %}
