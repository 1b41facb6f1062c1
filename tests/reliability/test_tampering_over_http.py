"""R6 (issue 6), what the service-level tests (tests/integration/test_application_durable.py:
edit, delete, swapped payloads, a forged row at the end) leave out: rows *reordered* (their
version numbers swapped) and a forged row *inserted in the middle* (later rows renumbered), each
behind a running server's back on SQLite and PostgreSQL, and seen through GET /verification —
which names the first bad version — while the untouched contract next to it still verifies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from infrastructure.settings import Settings
from tests.support import api as s
from tests.support.app import RawEvents
from tests.support.reliability import verification
from tests.support.servers import served

pytestmark = pytest.mark.slow


class Rows(RawEvents):
    def renumber(self, old: int, new: int) -> None:
        with self._cursor() as db:
            changed = db.execute(
                self._sql(
                    "UPDATE dialoog_events SET originator_version = ? "
                    "WHERE originator_id = ? AND originator_version = ?"
                ),
                (new, self._id(), old),
            ).rowcount
        assert changed == 1


def reorder(rows: Rows) -> None:
    """Versions 5 and 6 change places (the rows themselves are untouched)."""
    rows.renumber(5, 1000)
    rows.renumber(6, 5)
    rows.renumber(1000, 6)


def insert_in_the_middle(rows: Rows) -> None:
    """A forged publication becomes version 5; the real 5 and 6 move up to 6 and 7."""
    rows.renumber(6, 7)
    rows.renumber(5, 6)
    forged = rows.state(6)
    forged["payload"]["summary"] = "forged"
    forged["version"] = 5
    # Linked to the real version 4 (a form-2 digest is SHA-256 of the stored bytes)...
    forged["priorDigest"] = hashlib.sha256(next(b for v, _, b in rows.rows() if v == 4)).hexdigest()
    # ...but never logged, and the real version 5 (now 6) does not link to it.
    topic = next(t for v, t, _ in rows.rows() if v == 6)
    rows.insert(5, topic, forged)


@pytest.mark.parametrize("tamper", [reorder, insert_in_the_middle], ids=lambda f: f.__name__)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_tampering_is_named_over_http(
    store: str, tamper, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    with served(url, tmp_path) as server, server.client() as client:
        contracts = []
        for reference in ("R6-TAMPERED", "R6-UNTOUCHED"):
            contract = s.open_contract(client, reference)
            s.admit(client, contract, s.PROVIDER_A_ORG)
            s.accept(client, contract, s.PROVIDER_A_ORG, s.provider_a())
            s.activate(client, contract)  # version 4; publications 5 and 6
            for n in (5, 6):
                response = client.post(
                    f"{s.API}/contracts/{contract}/publications",
                    headers=s.commissioner(),
                    json={"audience": "council", "channel": "web", "summary": f"p{n}"},
                )
                assert response.status_code == 201, response.text
            contracts.append(contract)
        tampered, untouched = contracts
        assert verification(client, tampered, s.auditor())["valid"]

        tamper(Rows(Settings(database_url=url), tampered))

        report = verification(client, tampered, s.auditor())
        assert report["valid"] is False, report
        assert report["firstInvalidVersion"] == 5, report
        assert report["versionsChecked"] == 4, report
        assert report["reason"], report
        assert verification(client, untouched, s.auditor())["valid"]
