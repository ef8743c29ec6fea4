"""Validation of OSCAL files against NIST's published JSON schemas (tests/fixtures/oscal).

NIST's schemas write Unicode classes in their patterns (``\\p{L}``), which Python's ``re``
does not read, so ``jsonschema``'s Draft 7 validator is given a ``pattern`` keyword that
uses the ``regex`` package (same syntax plus Unicode classes). Formats are checked too.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import regex
from jsonschema import validators

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "oscal"
SCHEMAS = {
    "assessment-results": "oscal_assessment-results_schema.json",
    "plan-of-action-and-milestones": "oscal_poam_schema.json",
}


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


OscalValidator = validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


@cache
def validator(root: str) -> Any:
    schema = json.loads((FIXTURES / SCHEMAS[root]).read_text(encoding="utf-8"))
    return OscalValidator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def errors(document: dict[str, Any]) -> list[str]:
    """Every schema error in ``document`` (empty when it is valid), as readable lines."""
    (root,) = document.keys()
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator(root).iter_errors(document)
    ]
