"""Compare the manifests the real Kubernetes provider rendered with docs/manifests/prod.yaml (mocks).

Both sides are flattened to `Kind/name` -> {field path: value}. Auto-names (the provider's random
suffix, the mocks' hash) are compared without their suffix, everywhere they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

# Pulumi auto-naming appends "-" and 8 characters to the resource name (random in the real engine,
# a hash in the mocks).
AUTO_SUFFIX = re.compile(r"^(?P<base>[a-z0-9-]+)-[0-9a-z]{8}$")
AUTO_NAMED_KINDS = {"ConfigMap", "Secret"}


def documents(texts: Iterable[str]) -> list[dict[str, Any]]:
    return [doc for text in texts for doc in yaml.safe_load_all(text) if doc]


def auto_names(docs: list[dict[str, Any]]) -> dict[str, str]:
    """Each auto-generated name -> the same name with its suffix replaced by `<auto>`."""
    found = {}
    for doc in docs:
        name = doc["metadata"]["name"]
        match = AUTO_SUFFIX.match(name)
        if doc["kind"] in AUTO_NAMED_KINDS and match:
            found[name] = f"{match['base']}-<auto>"
    return found


def _replace_names(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace_names(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_names(item, names) for item in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def by_object(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`Kind/name` (auto-name suffixes replaced) -> flattened fields."""
    names = auto_names(docs)
    objects = {}
    for doc in docs:
        doc = _replace_names(doc, names)
        objects[f"{doc['kind']}/{doc['metadata']['name']}"] = flatten(doc)
    return objects


def differences(mocked: list[dict[str, Any]], real: list[dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    """`Kind/name field` -> (mocked value, real value) for every field that is not the same on both
    sides (a missing object or field shows as None)."""
    left, right = by_object(mocked), by_object(real)
    found: dict[str, tuple[Any, Any]] = {}
    for key in sorted(left.keys() | right.keys()):
        if key not in left or key not in right:
            found[key] = ("present" if key in left else None, "present" if key in right else None)
            continue
        fields_left, fields_right = left[key], right[key]
        for field in sorted(fields_left.keys() | fields_right.keys()):
            a, b = fields_left.get(field), fields_right.get(field)
            if a != b:
                found[f"{key} {field}"] = (a, b)
    return found
