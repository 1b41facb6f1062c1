"""publiccode.yml, LICENSE and pyproject.toml tell catalogues the same story.

No validator of the publiccode.yml standard is published on PyPI or npm (the reference parser,
publiccode-parser-go, is a Go program), so `validate` below checks the standard's v0.4 core
schema itself: every mandatory key, the closed vocabularies (platforms, categories, scope,
developmentStatus, softwareType, maintenance type), the length limits of the descriptions,
dates as YYYY-MM-DD and the per-type mandatory maintenance keys. Each check is also shown to
fail on a copy of the file broken that way.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

DEVELOPMENT_STATUS = {"concept", "development", "beta", "stable", "obsolete"}
SOFTWARE_TYPES = {
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
}
MAINTENANCE_TYPES = {"internal", "contract", "community", "none"}
# The standard's controlled vocabularies (docs/standard/categories-list.rst and scope-list.rst).
CATEGORIES = frozenset(
    """
    accounting agile-project-management applicant-tracking application-development
    appointment-scheduling backup billing-and-invoicing blog budgeting business-intelligence
    business-process-management cad call-center-management cloud-management collaboration
    communications compliance-management contact-management content-management crm
    customer-service-and-support data-analytics data-collection data-visualization design
    design-system digital-asset-management digital-citizenship document-management
    donor-management e-commerce e-signature educational-content email-management
    email-marketing employee-management enterprise-project-management
    enterprise-social-networking erp event-management facility-management
    feedback-and-reviews-management financial-reporting fleet-management fundraising
    gamification geographic-information-systems grant-management graphic-design help-desk hr
    ide identity-management instant-messaging inventory-management it-asset-management
    it-development it-management it-security it-service-management knowledge-management
    learning-management-system marketing mind-mapping mobile-marketing mobile-payment
    network-management office online-booking online-community payment-gateway payroll
    predictive-analysis procurement productivity-suite project-collaboration
    project-management property-management real-estate-management remote-support
    resource-management sales-management seo service-desk social-media-management survey
    talent-management task-management taxes-management test-management time-management
    time-tracking translation video-conferencing video-editing visitor-management voip
    warehouse-management web-collaboration web-conferencing website-builder whistleblowing
    workflow-management
    """.split()  # noqa: SIM905 - the standard's list, as it reads
)
SCOPES = frozenset(
    """
    agriculture culture defence education emergency-services employment energy environment
    finance-and-economic-development foreign-affairs healthcare infrastructures justice
    local-authorities manufacturing research science-and-technology security society sport
    tourism transportation welfare
    """.split()  # noqa: SIM905 - the standard's list, as it reads
)
# Human-readable platforms outside this list are allowed; ours use the predefined ones.
PLATFORMS = {"web", "windows", "mac", "linux", "ios", "android"}
BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
SPDX_ID = re.compile(r"^[A-Za-z0-9.\-+]+$")
MANDATORY = (
    "publiccodeYmlVersion",
    "name",
    "url",
    "platforms",
    "categories",
    "developmentStatus",
    "softwareType",
    "description",
    "legal",
    "maintenance",
    "localisation",
)


def _is_date(value: Any) -> bool:
    # YAML reads an unquoted 2026-11-23 as a date; the standard wants YYYY-MM-DD either way.
    if isinstance(value, dt.date):
        return True
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None


def validate(document: Any) -> list[str]:
    """What in `document` breaks the publiccode.yml v0.4 core standard."""
    if not isinstance(document, dict):
        return ["the document is not a mapping"]
    problems = [f"{key} is missing" for key in MANDATORY if key not in document]
    if str(document.get("publiccodeYmlVersion", "")).split(".")[:2] != ["0", "4"]:
        problems.append("publiccodeYmlVersion is not 0.4")
    if not str(document.get("url", "")).startswith(("https://", "http://")):
        problems.append("url is not an http(s) URL of the repository")
    if "releaseDate" in document and not _is_date(document["releaseDate"]):
        problems.append("releaseDate is not YYYY-MM-DD")
    platforms = document.get("platforms")
    platforms = [platforms] if isinstance(platforms, str) else platforms or []
    problems += [f"platform {p!r} is not predefined" for p in platforms if p not in PLATFORMS]
    if not platforms:
        problems.append("platforms is empty")
    categories = document.get("categories") or []
    if not categories:
        problems.append("categories is empty")
    problems += [f"category {c!r} is not in the list" for c in categories if c not in CATEGORIES]
    scope = (document.get("intendedAudience") or {}).get("scope") or []
    problems += [f"scope {s!r} is not in the list" for s in scope if s not in SCOPES]
    if document.get("developmentStatus") not in DEVELOPMENT_STATUS:
        problems.append(f"developmentStatus {document.get('developmentStatus')!r}")
    if document.get("softwareType") not in SOFTWARE_TYPES:
        problems.append(f"softwareType {document.get('softwareType')!r}")
    problems += _description(document.get("description"))
    license_id = str((document.get("legal") or {}).get("license", ""))
    if not license_id or not all(SPDX_ID.match(part) for part in license_id.split(" OR ")):
        problems.append(f"legal.license {license_id!r} is not an SPDX expression")
    problems += _maintenance(document.get("maintenance") or {})
    localisation = document.get("localisation") or {}
    if not isinstance(localisation.get("localisationReady"), bool):
        problems.append("localisation.localisationReady is not a boolean")
    languages = localisation.get("availableLanguages") or []
    if not languages:
        problems.append("localisation.availableLanguages is empty")
    problems += [f"language {lang!r} is not BCP 47" for lang in languages if not BCP47.match(lang)]
    for kind in ("open", "proprietary", "hardware"):
        for dependency in (document.get("dependsOn") or {}).get(kind) or []:
            if not dependency.get("name"):
                problems.append(f"a dependsOn.{kind} entry has no name")
    return problems


def _description(description: Any) -> list[str]:
    if not isinstance(description, dict) or not description:
        return ["description has no language"]
    problems = []
    for lang, text in description.items():
        if not BCP47.match(lang):
            problems.append(f"description language {lang!r} is not BCP 47")
        short = str(text.get("shortDescription", ""))
        if not short or len(short) > 150:
            problems.append(f"description.{lang}.shortDescription must be 1–150 characters")
        long = str(text.get("longDescription", ""))
        if not 150 <= len(long) <= 10000:
            problems.append(f"description.{lang}.longDescription must be 150–10000 characters")
        if not text.get("features"):
            problems.append(f"description.{lang}.features is missing")
    return problems


def _maintenance(maintenance: dict[str, Any]) -> list[str]:
    kind = maintenance.get("type")
    if kind not in MAINTENANCE_TYPES:
        return [f"maintenance.type {kind!r}"]
    problems = []
    if kind in {"internal", "community"} and not maintenance.get("contacts"):
        problems.append(f"maintenance.contacts is mandatory for type {kind}")
    if kind == "contract":
        contractors = maintenance.get("contractors") or []
        if not contractors:
            problems.append("maintenance.contractors is mandatory for type contract")
        problems += [
            f"contractor {c.get('name')!r} needs a name and an `until` date"
            for c in contractors
            if not c.get("name") or not _is_date(c.get("until"))
        ]
    problems += [
        "every maintenance contact needs a name"
        for contact in maintenance.get("contacts") or []
        if not contact.get("name")
    ]
    return problems


@pytest.fixture(scope="module")
def publiccode() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_publiccode_follows_the_standard(publiccode: dict[str, Any]) -> None:
    assert validate(publiccode) == []


def test_publiccode_describes_the_software_in_dutch_and_english(publiccode: dict[str, Any]) -> None:
    assert {"nl", "en"} <= set(publiccode["description"])
    assert {"nl", "en"} <= set(publiccode["localisation"]["availableLanguages"])
    assert "PostgreSQL" in {d["name"] for d in publiccode["dependsOn"]["open"]}


def test_one_licence_and_one_version_everywhere(
    publiccode: dict[str, Any], project: dict[str, Any]
) -> None:
    """LICENSE is the EUPL-1.2 text, and pyproject.toml and publiccode.yml say the same."""
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2\n")
    assert "Appendix" in licence and "Compatible Licences" in licence
    assert project["license"] == publiccode["legal"]["license"] == "EUPL-1.2"
    assert str(publiccode["softwareVersion"]) == project["version"]


BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "no name": lambda d: d.pop("name"),
    "old standard": lambda d: d.update(publiccodeYmlVersion="0.2"),
    "unknown category": lambda d: d["categories"].append("contract-dialogue"),
    "unknown scope": lambda d: d["intendedAudience"]["scope"].append("government"),
    "bad status": lambda d: d.update(developmentStatus="alpha"),
    "bad software type": lambda d: d.update(softwareType="service"),
    "long short description": lambda d: d["description"]["en"].update(shortDescription="x" * 151),
    "short long description": lambda d: d["description"]["nl"].update(longDescription="kort"),
    "no features": lambda d: d["description"]["en"].pop("features"),
    "no licence": lambda d: d["legal"].pop("license"),
    "contacts missing": lambda d: d["maintenance"].pop("contacts"),
    "contract without contractors": lambda d: d["maintenance"].update(type="contract"),
    "readiness not boolean": lambda d: d["localisation"].update(localisationReady="yes"),
    "bad language": lambda d: d["localisation"]["availableLanguages"].append("Dutch"),
    "bad release date": lambda d: d.update(releaseDate="23-11-2026"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_check_finds_its_breakage(publiccode: dict[str, Any], breakage: str) -> None:
    broken = copy.deepcopy(publiccode)
    BREAKAGES[breakage](broken)
    assert validate(broken) != []
