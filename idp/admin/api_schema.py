"""Check a JSON body against the OpenAPI schema the API documents (types, enums, ranges).

Field rules that JSON Schema cannot say (https redirect URIs, unique usernames...) stay
in the services; this only refuses what the document itself declares invalid.
"""

from __future__ import annotations

import re
from typing import Any

from ..services.admin_fields import FieldErrors

JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict,
              "null": type(None)}


def _type_ok(value: Any, types: list[str]) -> bool:
    for name in types:
        if name == "integer" and isinstance(value, bool):
            continue
        if isinstance(value, JSON_TYPES[name]):
            return True
    return False


def _problem(value: Any, rule: dict) -> str | None:
    if "enum" in rule:
        return None if value in rule["enum"] else f"Must be one of {', '.join(map(str, rule['enum']))}."
    types = rule.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not _type_ok(value, types):
            return f"Expected {' or '.join(types)}."
    if isinstance(value, str):
        if "\x00" in value:  # PostgreSQL text cannot hold NUL; refuse it on every store
            return "Must not contain NUL characters."
        if "maxLength" in rule and len(value) > rule["maxLength"]:
            return f"At most {rule['maxLength']} characters."
        if "pattern" in rule and not re.search(rule["pattern"], value):
            return "Not in the expected format."
    if isinstance(value, int) and not isinstance(value, bool):
        if value < rule.get("minimum", value) or value > rule.get("maximum", value):
            return f"Between {rule.get('minimum')} and {rule.get('maximum')}."
    if isinstance(value, list) and "items" in rule:
        for item in value:
            problem = _problem(item, rule["items"])
            if problem:
                return problem
    return None


def check(data: dict[str, Any], schema: dict, *, partial: bool = False) -> None:
    """Raise FieldErrors (422) for members that break ``schema``; unknown members pass."""
    errors: dict[str, str] = {}
    if not partial:
        for name in schema.get("required", []):
            if name not in data:
                errors[name] = "This field is required."
    for name, rule in schema.get("properties", {}).items():
        if name in data:
            problem = _problem(data[name], rule)
            if problem:
                errors[name] = problem
    if errors:
        raise FieldErrors(errors)
