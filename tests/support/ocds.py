"""Offline validation of OCDS packages against the OCDS 1.1.5 schema in ../shared/ocds (see its
README): the core release, release-package and record-package schemas with the metrics
extension merged into the release schema (JSON Merge Patch), checked with `jsonschema` (Draft 4,
the schema's own draft) and a registry that maps the schema URLs to the local files, and with
libcoveocds (the OCDS Data Review Tool's library) against the core schema zip; nothing is
fetched. Also what the schema cannot say: every array item's `id` unique in its array, and every
release `id` unique within its `ocid`.

Where ../shared/ocds is absent (a fresh clone), `validate` checks only the latter and the run
ends with one line saying the schema check did not run; under CI (CI=true) that is a failure,
as for the Makefile's other ../shared checks. `SHARED_DIR` names another shared folder (a git
worktree sits elsewhere than the main checkout).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHARED_DIR") or ROOT.parent / "shared")
STANDARD_ZIP = SHARED / "ocds" / "standard-1__1__5.zip"
METRICS = SHARED / "ocds" / "extensions" / "metrics" / "release-schema.json"
BASE = "https://standard.open-contracting.org/schema/1__1__5/"
#: printed once at the end of a run that could not check the schema (tests/conftest.py)
SKIP_LINE = f"skipped: OCDS schema validation ({STANDARD_ZIP} not found)"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@cache
def _validators() -> dict[str, Any] | None:
    if not STANDARD_ZIP.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{STANDARD_ZIP} not found (CI needs the shared folder)", pytrace=False)
        return None
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    schemas: dict[str, Any] = {}
    with zipfile.ZipFile(STANDARD_ZIP) as archive:
        for name in (
            "release-schema.json",
            "release-package-schema.json",
            "record-package-schema.json",
            "versioned-release-validation-schema.json",
        ):
            schemas[name] = json.loads(archive.read(f"standard-1__1__5/schema/{name}"))
    schemas["release-schema.json"] = merge_patch(
        schemas["release-schema.json"], json.loads(METRICS.read_text())
    )
    registry: Registry[Any] = Registry().with_resources(
        (BASE + name, Resource.from_contents(schema, default_specification=DRAFT4))
        for name, schema in schemas.items()
    )
    return {
        kind: Draft4Validator(schemas[f"{kind}-schema.json"], registry=registry)
        for kind in ("release-package", "record-package", "release")
    }


def schema_errors(document: Any, kind: str) -> list[str] | None:
    """The schema's complaints (None: the schema is not available here)."""
    validators = _validators()
    if validators is None:
        return None
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validators[kind].iter_errors(document)
    ]


def cove_errors(document: Any) -> list[str] | None:
    """What libcoveocds (the OCDS Data Review Tool's library) finds against the core schema
    offline: validation errors and values outside closed codelists (None: no schema here).
    The metrics extension cannot be fetched offline: its fields are checked by
    `schema_errors`, and libcoveocds reports them as additional fields, not as errors."""
    if _validators() is None:  # no schema here (under CI that fails instead)
        return None
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["standard_zip"] = STANDARD_ZIP.resolve().as_uri()
    config.config["context"] = "api"
    found = ocds_json_output("", None, json_data=document, lib_cove_ocds_config=config)
    errors = [f"{e['path']}: {e['description']}" for e in found["validation_errors"]]
    closed = found.get("additional_closed_codelist_values") or {}
    errors += [f"{path}: {value} is not in its closed codelist" for path, value in closed.items()]
    return errors


def duplicate_ids(document: Any, path: str = "") -> Iterator[str]:
    """Array items whose `id` repeats within their array."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from duplicate_ids(value, f"{path}/{key}")
    elif isinstance(document, list):
        seen: set[str] = set()
        for index, item in enumerate(document):
            if isinstance(item, dict) and "id" in item:
                key = json.dumps(item["id"])
                if key in seen:
                    yield f"{path}/{index}: id {item['id']} again"
                seen.add(key)
            yield from duplicate_ids(item, f"{path}/{index}")


def assert_valid(document: dict[str, Any], kind: str) -> None:
    """0 schema errors (where the schema is available) and no repeated ids."""
    errors = schema_errors(document, kind) or []
    if kind == "release-package":  # for a record package's versionedRelease libcoveocds
        # fetches its validation schema from the web; the registry above has it locally
        errors += [f"libcoveocds: {e}" for e in cove_errors(document) or []]
    releases = document.get("releases", [])
    ids = [r["id"] for r in releases if isinstance(r, dict) and "id" in r]
    if kind == "release-package":
        errors += [f"release id {i} twice" for i in {i for i in ids if ids.count(i) > 1}]
        for release in releases:
            errors += list(duplicate_ids(release, f"releases/{release.get('id')}"))
    else:
        for record in document.get("records", []):
            errors += list(duplicate_ids(record.get("compiledRelease"), "compiledRelease"))
    assert errors == [], "\n".join(errors[:20])
