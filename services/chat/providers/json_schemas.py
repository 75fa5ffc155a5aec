"""Which JSON Schemas llama.cpp's grammar converter honours.

llama.cpp turns a schema into a grammar, but keywords it does not know are skipped with a warning on
stderr and the output is then unconstrained there. A schema we cannot honour must be a 400, not an
answer that may not validate, so we check first.
"""

from typing import Any

# Constraints the converter enforces.
_ENFORCED = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
    "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions", "pattern", "format",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
}
# Annotations: they describe, they do not constrain.
_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$comment", "strict",
                "deprecated", "readOnly", "writeOnly", "nullable"}
_FORMATS = {"date", "time", "date-time", "uuid"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


def unsupported(schema: Any, path: str = "#") -> str | None:
    """The first part of `schema` we could not enforce, described; None when all of it is."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"{path} is not a schema object"
    for key, value in schema.items():
        if key not in _ENFORCED and key not in _ANNOTATIONS:
            return f"keyword `{key}` at {path} is not supported"
        if key == "$ref" and not str(value).startswith("#"):
            return f"{path}: only references into the same schema are supported"
        if key == "pattern" and not (str(value).startswith("^") and str(value).endswith("$")):
            return f"{path}: a pattern must be anchored with ^ and $"
        if key == "format" and value not in _FORMATS:
            return f"{path}: format `{value}` is not supported"
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key, ())):
            if found := unsupported(sub, f"{path}/{key}/{i}"):
                return found
    for key in _SUBSCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            if found := unsupported(sub, f"{path}/{key}/{name}"):
                return found
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict) and (found := unsupported(schema[key], f"{path}/{key}")):
            return found
    return None
