"""The auditor's dossier (issue 13, point 5): one contract on paper, in Dutch — the parties, money
against the ceiling and the modification limit, every agreed change with its consents and
session, indicators against their targets, the timeline, and the verification result with the
checkpoint it was checked against. Built as HTML here; infrastructure/pdf.py prints it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

from application import dutch
from application.dutch import euros as euro
from application.transparency_log import StoredCheckpoint
from application.views import ContractData, HistoryEntry, VerificationData

CSS = """
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: "pagina " counter(page) " van "
  counter(pages); font-size: 8pt; color: #555; } }
body { font-family: sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 16pt; margin-bottom: 2mm; } h2 { font-size: 12pt; margin-top: 7mm;
  border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin-top: 2mm; }
th, td { border: 1px solid #bbb; padding: 1.2mm 1.6mm; text-align: left; vertical-align: top; }
th { background: #eee; } .num { text-align: right; white-space: nowrap; }
.mono { font-family: monospace; font-size: 8pt; word-break: break-all; }
.fout { color: #a00; font-weight: bold; } .goed { color: #060; font-weight: bold; }
"""


def dag(value: date | datetime | None) -> str:
    return dutch.day(value.date() if isinstance(value, datetime) else value)


def _e(value: object) -> str:
    return escape(str(value))


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def dossier_html(
    contract: ContractData,
    history: list[HistoryEntry],
    verdict: VerificationData,
    checkpoint: StoredCheckpoint | None,
    inclusion: tuple[int, bool] | None,
    now: datetime | None = None,
) -> str:
    """`inclusion`: the head event's leaf index and whether its proof against the checkpoint
    holds (None: the head event is not in the checkpoint)."""
    made = (now or datetime.now(UTC)).strftime("%d-%m-%Y %H:%M UTC")
    parts = [
        f"<h1>Dossier {_e(contract.reference)} — {_e(contract.title)}</h1>",
        f"<p>Opgemaakt op {made} uit de vastgelegde geschiedenis (versie {contract.version}). "
        f"Status: <b>{_e(dutch.word(contract.status))}</b>. Looptijd "
        f"{dag(contract.term.start)} t/m {dag(contract.term.end)}. Procedure: "
        f"{_e(contract.procedure)}.</p>",
        f"<p><b>Opdracht:</b> {_e(contract.assignment)}</p>",
        _parties(contract),
        _money(contract),
        _changes(contract),
        _indicators(contract),
        _timeline(history),
        _verification(verdict, checkpoint, inclusion),
    ]
    return (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>Dossier {_e(contract.reference)}</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def _parties(c: ContractData) -> str:
    rows = [["opdrachtgever", _e(c.commissioner.org), "", ""]]
    rows += [
        ["opdrachtnemer", _e(p.org), _e(dutch.word(p.status)), dag(p.admitted_on)]
        for p in c.providers
    ]
    rows += [["belanghebbende", _e(s.name), _e(s.kind), ""] for s in c.stakeholders]
    return "<h2>Partijen</h2>" + _table(["rol", "organisatie", "status", "toegelaten"], rows)


def _money(c: ContractData) -> str:
    f = c.financial_framework
    limit_state = (
        '<span class="fout">overschreden: mogelijk wezenlijke wijziging</span>'
        if f.change_limit_exceeded
        else '<span class="goed">binnen de grens</span>'
    )
    summary = _table(
        ["", "bedrag"],
        [
            ["plafond per periode", f'<span class="num">{euro(f.ceiling)}</span>'],
            ["toegewezen", f'<span class="num">{euro(f.allocated)}</span>'],
            [
                "geraamde waarde bij aanvang",
                f'<span class="num">{euro(f.initial_value)}</span>',
            ],
            ["EU-drempel bij aanvang", f'<span class="num">{euro(f.threshold)}</span>'],
            [
                "wijzigingsgrens (art. 72 / Aw 2.163)",
                f'<span class="num">{euro(f.change_limit)}',
            ],
            [
                "cumulatieve waarde van wijzigingen",
                f'<span class="num">{euro(f.cumulative_change_value)}</span> — {limit_state}',
            ],
        ],
    )
    changes = _table(
        ["voorstel", "ingang", "waarde", "cumulatief", "mogelijk wezenlijk"],
        [
            [
                _e(v.proposal_id),
                dag(v.effective_on),
                euro(v.value),
                euro(v.cumulative),
                "ja" if v.possibly_substantial_change else "nee",
            ]
            for v in f.changes
        ],
    )
    allocations = _table(
        ["opdrachtnemer", "toegewezen"], [[_e(a.org), euro(a.amount)] for a in f.allocations]
    )
    return "<h2>Financieel kader</h2>" + summary + allocations + changes


def _changes(c: ContractData) -> str:
    sessions = {s.session_id: s for s in c.sessions}
    rows = []
    for p in c.proposals:
        if p.status != "agreed":
            continue
        session = sessions.get(p.session_id)
        where = (
            f"{dag(session.held_on)} ({_e(session.kind)}, verslag {_e(session.minutes_ref)})"
            if session
            else _e(p.session_id)
        )
        rows.append(
            [
                _e(p.kind),
                _e(p.rationale),
                _e(p.proposed_by.org),
                ", ".join(_e(org) for org in p.consents),
                where,
                dag(p.submitted_at),
            ]
        )
    return "<h2>Overeengekomen wijzigingen</h2>" + _table(
        ["soort", "onderbouwing", "voorgesteld door", "instemming", "sessie", "ingediend"], rows
    )


def _indicators(c: ContractData) -> str:
    latest: dict[str, tuple[date, Decimal]] = {}
    for m in c.measurements:
        seen = latest.get(m.indicator_id)
        if seen is None or m.period.end >= seen[0]:
            latest[m.indicator_id] = (m.period.end, m.value)
    rows = []
    for i in c.indicators:
        last = latest.get(i.indicator_id)
        rows.append(
            [
                f"{_e(i.name)} (v{i.version})",
                _e(i.unit),
                _e(i.baseline.value) if i.baseline else "—",
                f"{_e(i.target.value)} per {dag(i.target.due_on)}" if i.target else "—",
                f"{_e(last[1])} ({dag(last[0])})" if last else "—",
                _e(dutch.word(i.status)),
            ]
        )
    return "<h2>Indicatoren</h2>" + _table(
        ["indicator", "eenheid", "nulmeting", "doel", "laatste meting", "status"], rows
    )


def _timeline(history: list[HistoryEntry]) -> str:
    rows = [
        [
            str(h.version),
            dag(h.recorded_at),
            dag(h.effective_on),
            _e(h.type),
            f"{_e(h.actor.org)} ({_e(h.actor.role)})",
            _e(h.session_id or h.decision_ref or ""),
        ]
        for h in history
    ]
    return "<h2>Tijdlijn</h2>" + _table(
        ["versie", "vastgelegd", "ingang", "gebeurtenis", "door", "sessie / besluit"], rows
    )


def _verification(
    verdict: VerificationData,
    checkpoint: StoredCheckpoint | None,
    inclusion: tuple[int, bool] | None,
) -> str:
    chain = (
        f'<span class="goed">de hashketen klopt</span> ({verdict.versions_checked} versies)'
        if verdict.valid
        else f'<span class="fout">de hashketen klopt niet</span> vanaf versie '
        f"{verdict.first_invalid_version}: {_e(verdict.reason)}"
    )
    lines = [
        f"<p>Controle: {chain}. Laatste digest: "
        f'<span class="mono">{_e(verdict.head_digest)}</span></p>'
    ]
    if checkpoint is not None:
        root = base64.b64encode(checkpoint.root_hash).decode()
        lines.append(
            "<p>Gecontroleerd tegen het controlepunt van "
            f"{dag(datetime.fromisoformat(checkpoint.signed_at))}: "
            f"boomgrootte {checkpoint.tree_size}, wortel "
            f'<span class="mono">{_e(root)}</span>.</p>'
            f'<p class="mono">{_e(checkpoint.note).replace(chr(10), "<br>")}</p>'
        )
    if inclusion is None:
        lines.append("<p>De laatste versie valt (nog) niet onder dit controlepunt.</p>")
    else:
        index, holds = inclusion
        state = (
            '<span class="goed">klopt</span>' if holds else '<span class="fout">klopt niet</span>'
        )
        lines.append(f"<p>Opnamebewijs van de laatste versie (blad {index}): {state}.</p>")
    return "<h2>Verificatie</h2>" + "".join(lines)
