"""The read-model rows as database rows and back, written once for both databases.

Decimals are stored as their `str()` in text columns on both databases (PostgreSQL's NUMERIC
would turn Decimal('1E+3') into Decimal('1000') and Decimal('-0') into Decimal('0'), and a huge
exponent a client got past the domain would make the projection fail forever). What SQL has no
common type for — dates, booleans, instants — each store says in its `Values`: SQLite keeps ISO
text and 0/1, PostgreSQL its own DATE, BOOLEAN and TIMESTAMPTZ (read back in UTC).

The tuples follow the column order of `tables.SUMMARIES`, `tables.PARTIES` and
`tables.INDICATORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from application.read_models import ContractSummary, IndicatorRow


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Values:
    """How one database holds dates, booleans and instants (as they are, by default)."""

    write_date: Callable[[date | None], Any] = _as_is
    read_date: Callable[[Any], date | None] = _as_is
    write_bool: Callable[[bool | None], Any] = _as_is
    read_bool: Callable[[Any], bool | None] = _as_is
    write_instant: Callable[[datetime], Any] = _as_is
    read_instant: Callable[[Any], datetime] = _as_is


def latest_per_contract(summaries: Sequence[ContractSummary]) -> list[ContractSummary]:
    """The last summary given for each contract (later ones win, as in memory); a database
    needs to know the instant, so a naive `updated_at` is refused."""
    latest = {summary.contract_id: summary for summary in summaries}
    for summary in latest.values():
        if summary.updated_at.tzinfo is None or summary.updated_at.utcoffset() is None:
            raise ValueError(
                f"summary of {summary.contract_id}: updated_at must be timezone-aware, "
                f"got {summary.updated_at!r}"
            )
    return list(latest.values())


def summary_row(summary: ContractSummary, values: Values) -> tuple[Any, ...]:
    return (
        summary.contract_id,
        summary.reference,
        summary.title,
        summary.status,
        summary.commissioner,
        summary.version,
        values.write_instant(summary.updated_at),
        summary.head_digest,
        summary.reference.casefold(),
        summary.title.casefold(),
    )


def party_rows(summaries: Iterable[ContractSummary]) -> Iterator[tuple[str, str, int, str]]:
    """The commissioner (role 'commissioner') and the providers in the order given."""
    for summary in summaries:
        yield summary.contract_id, "commissioner", 0, summary.commissioner
        for ordinal, provider in enumerate(summary.providers):
            yield summary.contract_id, "provider", ordinal, provider


def grant_rows(summaries: Iterable[ContractSummary], values: Values) -> Iterator[tuple[Any, ...]]:
    """The access grants in force or to come (not revoked) of each contract."""
    for summary in summaries:
        for ordinal, (org, until) in enumerate(summary.grants):
            yield summary.contract_id, ordinal, org, values.write_date(until)


def indicator_rows(
    indicators: dict[str, list[IndicatorRow]], values: Values
) -> Iterator[tuple[Any, ...]]:
    """The dashboard rows of each contract, numbered in the order given."""
    for contract_id, rows in indicators.items():
        for ordinal, row in enumerate(rows):
            yield (
                contract_id,
                ordinal,
                row.indicator_id,
                row.name,
                row.version,
                row.unit,
                row.direction,
                values.write_bool(row.active),
                _decimal_text(row.baseline_value),
                values.write_date(row.baseline_measured_on),
                _decimal_text(row.target_value),
                values.write_date(row.target_due_on),
                _decimal_text(row.latest_value),
                values.write_date(row.latest_period_end),
                values.write_bool(row.on_track),
            )


def indicator_from_row(row: Sequence[Any], values: Values) -> IndicatorRow:
    return IndicatorRow(
        contract_id=row[0],
        indicator_id=row[2],
        name=row[3],
        version=row[4],
        unit=row[5],
        direction=row[6],
        active=bool(values.read_bool(row[7])),
        baseline_value=_decimal(row[8]),
        baseline_measured_on=values.read_date(row[9]),
        target_value=_decimal(row[10]),
        target_due_on=values.read_date(row[11]),
        latest_value=_decimal(row[12]),
        latest_period_end=values.read_date(row[13]),
        on_track=values.read_bool(row[14]),
    )


def summaries_from_page(rows: Iterable[Sequence[Any]], values: Values) -> list[ContractSummary]:
    """Rows of (`tables.PAGE_COLUMNS`..., provider or NULL), ordered by contract then provider
    ordinal, folded into summaries."""
    result: list[ContractSummary] = []
    current: Sequence[Any] | None = None
    providers: list[str] = []
    for row in rows:
        if current is None or row[0] != current[0]:
            if current is not None:
                result.append(_summary(current, tuple(providers), values))
            current, providers = row, []
        if row[-1] is not None:
            providers.append(row[-1])
    if current is not None:
        result.append(_summary(current, tuple(providers), values))
    return result


def _summary(row: Sequence[Any], providers: tuple[str, ...], values: Values) -> ContractSummary:
    return ContractSummary(
        contract_id=row[0],
        reference=row[1],
        title=row[2],
        status=row[3],
        commissioner=row[4],
        providers=providers,
        version=row[5],
        updated_at=values.read_instant(row[6]),
        head_digest=row[7],
    )


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
