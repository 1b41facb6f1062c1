"""A disclosed contract as open data: the Open Contracting Data Standard 1.1.5 (OCDS), with the
metrics extension for indicators.

An event-sourced contract already is what OCDS calls a series of releases: one release per
public fact that changed the contract — the opening (`contract`), every agreed change
(`contractAmendment`, with an amendment naming the releases before and after), measurements
(`implementationUpdate`), the end (`contractTermination`), and other public changes such as
activation or a provider joining (`contractUpdate`). Each release is the whole public picture
at that version, built from `public_view` (application/publicity.py), so nothing personal, no
minutes and no open or rejected proposals ever reach it. Ids are stable: a release is named by
its contract version, array items by the record they show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from application.publicity import PublicContract, public_view
from domain.contract import Contract
from domain.events import (
    ContractActivated,
    ContractCompleted,
    ContractEvent,
    ContractOpened,
    ContractResumed,
    ContractSuspended,
    ContractTerminated,
    MeasurementRecorded,
    ProposalAgreed,
    ProviderAccepted,
    ProviderWithdrew,
    PublicationIssued,
    RecordCorrected,
)

OCDS_VERSION = "1.1"
METRICS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_metrics_extension/"
    "v1.1/extension.json"
)
CURRENCY = "EUR"

#: Which events make a release, and its tag.
RELEASE_TAGS: dict[type[ContractEvent], str] = {
    ContractOpened: "contract",
    ProposalAgreed: "contractAmendment",
    MeasurementRecorded: "implementationUpdate",
    ContractTerminated: "contractTermination",
    ContractCompleted: "contractTermination",
    ContractActivated: "contractUpdate",
    ContractSuspended: "contractUpdate",
    ContractResumed: "contractUpdate",
    ProviderAccepted: "contractUpdate",
    ProviderWithdrew: "contractUpdate",
    PublicationIssued: "contractUpdate",
    RecordCorrected: "contractUpdate",
}
CONTRACT_STATUS = {
    "draft": "pending",
    "active": "active",
    "suspended": "active",
    "terminated": "terminated",
    "completed": "terminated",
}


def ocid(prefix: str, contract_id: str) -> str:
    return f"{prefix}-{contract_id}"


def release_id(ocid_: str, version: int) -> str:
    return f"{ocid_}-v{version}"


def releases(events: Iterable[ContractEvent], prefix: str) -> list[dict[str, Any]]:
    """Every release of the contract whose events these are, oldest first."""
    contract: Contract | None = None
    found: list[dict[str, Any]] = []
    previous: str | None = None
    amended: dict[str, dict[str, Any]] = {}  # proposal id → its amendment, fixed when agreed
    for event in events:
        contract = event.mutate(contract)
        assert contract is not None  # noqa: S101 - mutate returns the aggregate
        tag = RELEASE_TAGS.get(type(event))
        if tag is None or not _public_fact(contract, event):
            continue
        release = _release(public_view(contract), event, tag, prefix, previous, amended)
        previous = release["id"]
        found.append(release)
    return found


def _public_fact(contract: Contract, event: ContractEvent) -> bool:
    if isinstance(event, RecordCorrected):
        kind, _ = contract.correctable.get(str(event.corrects_version), ["", ""])
        return kind in ("measurement", "publication")
    return True


def _release(
    view: PublicContract,
    event: ContractEvent,
    tag: str,
    prefix: str,
    previous: str | None,
    amended: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    ocid_ = ocid(prefix, view.id)
    this = release_id(ocid_, event.originator_version)
    when = _moment(event.timestamp)
    contract: dict[str, Any] = {
        "id": view.id,
        "awardID": f"{view.id}-award",
        "title": view.title,
        "description": view.assignment,
        "status": CONTRACT_STATUS.get(view.status, "active"),
        "period": _period(view.term.start, view.term.end),
        "value": _money(view.financial_framework.initial_value),
    }
    if isinstance(event, ProposalAgreed):
        # The amendment names the release it amended (the one before) and its own.
        amended[event.proposal_id] = {
            "id": event.proposal_id,
            "date": when,
            "description": f"Agreed change ({event.kind.replace('_', ' ')})",
            "amendsReleaseID": previous,
            "releaseID": this,
        }
    amendments = [
        {k: v for k, v in amended[c.proposal_id].items() if v is not None}
        for c in view.agreed_changes
        if c.proposal_id in amended
    ]
    if amendments:
        contract["amendments"] = amendments
    metrics = _agreed_metrics(view)
    if metrics:
        contract["agreedMetrics"] = metrics
    observed = _observed_metrics(view)
    if observed:
        contract["implementation"] = {"metrics": observed}
    parties = [
        {"id": view.commissioner, "name": view.commissioner, "roles": ["buyer", "procuringEntity"]}
    ] + [{"id": p.org, "name": p.name, "roles": ["supplier"]} for p in view.providers]
    suppliers = [{"id": p.org, "name": p.name} for p in view.providers if p.status == "active"]
    return {
        "ocid": ocid_,
        "id": this,
        "date": when,
        "tag": [tag],
        "initiationType": "tender",
        "language": "nl",
        "parties": parties,
        "buyer": {"id": view.commissioner, "name": view.commissioner},
        "tender": {
            "id": f"{view.id}-tender",
            "title": view.title,
            "status": "complete",
            "procurementMethodDetails": view.procedure,
            "mainProcurementCategory": "services",
        },
        "awards": [
            {
                "id": f"{view.id}-award",
                "title": view.title,
                "status": "active" if view.status != "draft" else "pending",
                "suppliers": suppliers,
                "value": _money(view.financial_framework.initial_value),
            }
        ],
        "contracts": [contract],
    }


def _agreed_metrics(view: PublicContract) -> list[dict[str, Any]]:
    metrics = []
    for indicator in view.indicators:
        observations: list[dict[str, Any]] = []
        unit = {"name": indicator.unit}
        if indicator.baseline is not None:
            observations.append(
                {
                    "id": f"{indicator.indicator_id}-v{indicator.version}-baseline",
                    "period": _period(
                        indicator.baseline.measured_on, indicator.baseline.measured_on
                    ),
                    "measure": indicator.baseline.value,
                    "unit": unit,
                }
            )
        if indicator.target is not None:
            observations.append(
                {
                    "id": f"{indicator.indicator_id}-v{indicator.version}-target",
                    "period": _period(indicator.target.due_on, indicator.target.due_on),
                    "measure": indicator.target.value,
                    "unit": unit,
                }
            )
        metrics.append(
            {
                "id": indicator.indicator_id,
                "title": indicator.name,
                "description": indicator.definition,
                "observations": observations,
            }
        )
    return metrics


def _observed_metrics(view: PublicContract) -> list[dict[str, Any]]:
    names = {i.indicator_id: i for i in view.indicators}
    by_indicator: dict[str, list[dict[str, Any]]] = {}
    for measurement in view.measurements:
        indicator = names.get(measurement.indicator_id)
        by_indicator.setdefault(measurement.indicator_id, []).append(
            {
                "id": measurement.measurement_id,
                "period": _period(measurement.period.start, measurement.period.end),
                "measure": measurement.value,
                "unit": {"name": indicator.unit if indicator else ""},
            }
        )
    return [
        {
            "id": indicator_id,
            "title": names[indicator_id].name if indicator_id in names else indicator_id,
            "observations": observations,
        }
        for indicator_id, observations in by_indicator.items()
    ]


def _money(amount: Decimal) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


def _period(start: date, end: date) -> dict[str, str]:
    return {"startDate": _day(start), "endDate": _day(end, end_of_day=True)}


def _day(day: date, *, end_of_day: bool = False) -> str:
    return f"{day.isoformat()}T{'23:59:59' if end_of_day else '00:00:00'}Z"


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Packages --------------------------------------------------------------------------------------


def release_package(found: Sequence[dict[str, Any]], uri: str, publisher: str) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": [METRICS_EXTENSION],
        "publishedDate": found[-1]["date"] if found else _moment(datetime.now(UTC)),
        "publisher": {"name": publisher},
        "releases": list(found),
    }


def record_package(
    found: Sequence[dict[str, Any]], uri: str, releases_uri: str, publisher: str
) -> dict[str, Any]:
    """One record: the releases (embedded), the compiled release and the versioned release."""
    last = found[-1]
    compiled = {**last, "id": f"{last['ocid']}-{last['date']}", "tag": ["compiled"]}
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": [METRICS_EXTENSION],
        "publishedDate": last["date"],
        "publisher": {"name": publisher},
        "packages": [releases_uri],
        "records": [
            {
                "ocid": last["ocid"],
                "releases": [
                    {"url": f"{releases_uri}#{r['id']}", "date": r["date"], "tag": r["tag"]}
                    for r in found
                ],
                "compiledRelease": compiled,
                "versionedRelease": versioned_release(found),
            }
        ],
    }


_NOT_VERSIONED = ("id", "date", "tag")


def versioned_release(found: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every field with the history of its values (OCDS versioned release): a value is listed
    again only when it changed. Arrays of objects with ids are merged by id."""
    stamped = [(r["id"], r["date"], r["tag"], r) for r in found]
    versioned = _versioned_object(
        [
            (i, d, t, {k: v for k, v in r.items() if k not in _NOT_VERSIONED})
            for i, d, t, r in stamped
        ]
    )
    versioned["ocid"] = found[-1]["ocid"]
    return versioned


Stamped = tuple[str, str, list[str], Any]


def _versioned_object(values: list[Stamped], *, keep_id: bool = False) -> dict[str, Any]:
    keys: dict[str, None] = {}
    for _, _, _, value in values:
        keys.update(dict.fromkeys(value))
    result: dict[str, Any] = {}
    for key in keys:
        if key == "ocid" or (keep_id and key == "id"):
            result[key] = next(v[key] for _, _, _, v in reversed(values) if key in v)
            continue
        result[key] = _versioned_value([(i, d, t, v[key]) for i, d, t, v in values if key in v])
    return result


def _versioned_value(values: list[Stamped]) -> Any:
    sample = values[-1][3]
    if isinstance(sample, dict):
        return _versioned_object(values)
    if (
        isinstance(sample, list)
        and sample
        and all(isinstance(item, dict) and "id" in item for item in sample)
    ):
        by_id: dict[str, list[Stamped]] = {}
        for i, d, t, items in values:
            for item in items:
                by_id.setdefault(str(item["id"]), []).append((i, d, t, item))
        return [_versioned_object(history, keep_id=True) for history in by_id.values()]
    changes: list[dict[str, Any]] = []
    for i, d, t, value in values:
        if not changes or changes[-1]["value"] != value:
            changes.append({"releaseID": i, "releaseDate": d, "releaseTag": t, "value": value})
    return changes


# JSON with exact decimals -------------------------------------------------------------------


_DECIMAL = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?(?:E[-+]?[0-9]+)?)\\u0000"')


def to_json(document: Any) -> bytes:
    """JSON text in which every Decimal is a number written exactly as the Decimal reads (the
    standard library would go through float)."""
    text = json.dumps(_mark(document), ensure_ascii=False, separators=(",", ":"))
    return _DECIMAL.sub(r"\1", text).encode()


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\x00dec:{value}\x00"
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value
