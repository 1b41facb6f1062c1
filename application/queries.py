"""Queries: the contract now or in the past, one proposal, the history, differences, the chain's
verification, the contract list and the indicator dashboard. They return views, never the
aggregate; a read that fills an ETag reports the version it read from the same load."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from application import diff, history, record_pages, time_travel, verification
from application.contract_store import ContractStore, contract_uuid
from application.errors import ContractNotFound, InvalidQuery, NotPermitted, StoreUnavailable
from application.log_queries import EvidenceQueries
from application.principal import Principal
from application.read_models import ContractSummary, IndicatorRow, SummaryFilter
from application.rendering import contract_data, contract_state, proposal_data
from application.stored_form import record_digest
from application.views import (
    ContractData,
    ContractState,
    Data,
    DiffData,
    HistoryPage,
    IndicatorHistoryData,
    ProposalData,
    VerificationData,
    Viewed,
)
from domain.contract import Contract
from domain.events import ContractEvent
from domain.records import access_on
from domain.values import local_date

log = logging.getLogger(__name__)


class ContractQueries(EvidenceQueries, ContractStore):
    name = "dialoog"  # not the class name: the stores' tables are named after it

    def get_contract(
        self,
        principal: Principal,
        contract_id: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        in_force_on: date | None = None,
    ) -> ContractData:
        """The whole contract, every record included (pages, dossier), now, at a version, as
        recorded at a moment, or in force on a date. Now: rendered once per version and shared
        (the model is immutable), like `contract_state_json`."""
        if version is None and as_of is None and in_force_on is None:
            full: ContractData = self._current_view(
                principal, contract_id, "full", contract_data
            ).body
            return full
        return contract_data(
            self._contract_at(
                principal, contract_id, version=version, as_of=as_of, in_force_on=in_force_on
            )
        )

    def contract_state(
        self,
        principal: Principal,
        contract_id: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        in_force_on: date | None = None,
    ) -> ContractState:
        """The contract as the API shows it (in force and open, with counts of its growing
        collections), now, at a version, as recorded at a moment, or in force on a date."""
        return contract_state(
            self._contract_at(
                principal, contract_id, version=version, as_of=as_of, in_force_on=in_force_on
            )
        )

    def contract_state_json(self, principal: Principal, contract_id: str) -> Viewed[bytes]:
        """The current state as the API sends it (JSON), rendered once per version."""
        return self._current_view(principal, contract_id, "state", _state_json)

    def _current_view(
        self, principal: Principal, contract_id: str, kind: str, render: Callable[[Contract], Any]
    ) -> Viewed[Any]:
        """A view of the current state, rendered once per version in this process: a read that
        finds the rendering at the stored head (one indexed row; its record's digest) and whose
        organisation may read it answers without loading the contract. Who may read is decided
        as `_visible` decides, from the members and grants kept with the rendering, today."""
        cache = self.aggregate_cache
        uuid = contract_uuid(contract_id)
        if cache is not None and (kept := cache.rendered(uuid, kind)) is not None:
            if self._party_gate.surely_hidden(uuid, principal.org):
                raise ContractNotFound(f"no contract {contract_id}")
            with self._store_errors():
                head = self.recorder.select_events(uuid, desc=True, limit=1)
            if (
                head
                and head[0].originator_version == kept.version
                and record_digest(head[0].state) == kept.head_digest
            ):
                today = local_date(datetime.now(UTC))
                if principal.org not in kept.members and not access_on(
                    kept.grants, principal.org, today
                ):
                    raise ContractNotFound(f"no contract {contract_id}")
                cache.rendered_hits += 1
                return Viewed(kept.version, kept.head_digest, kept.body)
        contract = self._visible(principal, contract_id)
        body = render(contract)
        if cache is not None:
            copy = cache.get(contract.id)
            size = len(body) if isinstance(body, bytes) else copy.size if copy else 0
            cache.keep_rendered(
                contract.id,
                kind,
                contract.version,
                contract.head_digest,
                body,
                size,
                frozenset(contract.members),
                tuple(contract.access_grants.values()),
            )
        return Viewed(contract.version, contract.head_digest, body)

    def _contract_at(
        self,
        principal: Principal,
        contract_id: str,
        *,
        version: int | None,
        as_of: datetime | None,
        in_force_on: date | None,
    ) -> Contract:
        if sum(x is not None for x in (version, as_of, in_force_on)) > 1:
            raise InvalidQuery("ask for at most one of version, asOf and inForceOn")
        if version is None and as_of is None and in_force_on is None:
            return self._visible(principal, contract_id)
        # Who may read, and the head, from the current state as rendered once per version: a
        # past version is read without copying the whole current contract first.
        head = self._current_view(principal, contract_id, "state", _state_json).version
        uuid = contract_uuid(contract_id)
        if version is not None:
            if not 1 <= version <= head:
                raise InvalidQuery(f"version must be between 1 and {head}")
            return self._load(uuid, version=version)
        if as_of is not None:
            with self._store_errors():
                found = time_travel.version_at(self.recorder, self.mapper, uuid, head, as_of)
            if found is None:
                raise InvalidQuery(f"the contract did not exist yet at {as_of.isoformat()}")
            return self._load(uuid, version=found)
        with self._store_errors():
            events = self.events.get(uuid, lte=head)
            return time_travel.in_force_on(events, in_force_on)  # type: ignore[arg-type]

    def get_proposal(
        self, principal: Principal, contract_id: str, proposal_id: str
    ) -> Viewed[ProposalData]:
        """One proposal, and the contract version it was read at (one load)."""
        contract = self._visible(principal, contract_id)
        proposal = contract.proposals.get(proposal_id)
        if proposal is None:
            raise ContractNotFound(f"no proposal {proposal_id} on contract {contract_id}")
        return Viewed(contract.version, contract.head_digest, proposal_data(contract, proposal))

    def history(
        self, principal: Principal, contract_id: str, *, after: int = 0, limit: int = 50
    ) -> HistoryPage:
        self._require_auditor(principal)
        contract = self._visible(principal, contract_id, audit=True)
        with self._store_errors():
            return history.history_page(self.events, contract.id, after=after, limit=limit)

    def diff(
        self,
        principal: Principal,
        contract_id: str,
        *,
        from_version: int,
        to_version: int,
        language: str = "nl",
    ) -> DiffData:
        """What changed from one version to a later one, and why, in `language` (nl or en)."""
        self._require_auditor(principal)
        contract = self._visible(principal, contract_id, audit=True)
        for v in (from_version, to_version):
            if not 1 <= v <= contract.version:
                raise InvalidQuery(f"versions run from 1 to {contract.version}")
        if from_version > to_version:
            raise InvalidQuery(f"from ({from_version}) must not be after to ({to_version})")
        before = self._load(contract.id, version=from_version)
        after = self._load(contract.id, version=to_version)
        with self._store_errors():
            between = [
                event
                for event in self.events.get(contract.id, gt=from_version, lte=to_version)
                if isinstance(event, ContractEvent)
            ]
        return diff.diff(before, after, between, language)

    def verify(
        self, principal: Principal, contract_id: str, *, snapshots: bool = True
    ) -> VerificationData:
        """Check the hash chain of the stored events; with `snapshots` (the default), also
        every snapshot: its seal, and its head digest against the chain's at its version (reads
        skip a snapshot that fails either, so this tells whether anyone tried)."""
        self._require_auditor(principal)
        uuid = contract_uuid(contract_id)
        if self._party_gate.surely_hidden(uuid, principal.org):
            # Known not to be this organisation's (nor granted to it): what a missing id costs.
            raise ContractNotFound(f"no contract {contract_id}")
        with self._store_errors():
            # One pass over the stored records gives both the verdict and who may see it
            # (from the records themselves: a tampered history may no longer replay).
            digests: dict[int, str] = {}
            verdict, parties = verification.verify_chain(
                self.recorder, uuid, digests, decode=self.mapper.to_domain_event
            )
        if principal.org not in parties and not self._granted(principal, contract_id):
            raise ContractNotFound(f"no contract {contract_id}")
        if not snapshots or not verdict.valid or self.snapshots is None:
            return verdict
        with self._store_errors():
            checked, broken = verification.check_snapshots(
                self.snapshots.recorder, uuid, self._snapshot_key, Contract.STATE_VERSION, digests
            )
        if not broken:
            return verdict.model_copy(update={"snapshots_checked": checked})
        version, why = broken[0]
        return verdict.model_copy(
            update={
                "valid": False,
                "snapshots_checked": checked,
                "first_invalid_version": version,
                "reason": f"the snapshot at version {version} {why}; reads skip it",
            }
        )

    def list_contracts(self, principal: Principal, query: SummaryFilter) -> list[ContractSummary]:
        store = self._read_models()
        self._catch_up()
        with self._store_errors():
            rows = store.summaries(
                SummaryFilter(
                    visible_to=principal.org,
                    visible_on=local_date(datetime.now(UTC)),
                    status=query.status,
                    text=query.text,
                    after=query.after,
                    limit=query.limit,
                )
            )
        return [row for row in rows if self._on_record(row)]

    def _on_record(self, row: ContractSummary) -> bool:
        """Does the row stand on the contract's history: a version the history has, and at the
        head the head's digest? (A row that does not was not made by the events: left out of
        lists, and logged for `dialoog projections verify`.)"""
        try:
            uuid = contract_uuid(row.contract_id)
        except ContractNotFound:
            uuid = None
        with self._store_errors():
            last = self.recorder.select_events(uuid, desc=True, limit=1) if uuid else []
        if last and row.version < last[0].originator_version:
            return True  # behind (a write since the catch-up): an older version, not a forgery
        at_head = last and row.version == last[0].originator_version
        if at_head and record_digest(last[0].state) == row.head_digest:
            return True
        log.warning("read model: the row of %s does not stand on its history", row.contract_id)
        return False

    def collection(
        self,
        principal: Principal,
        contract_id: str,
        kind: str,
        *,
        after: int = 0,
        limit: int = 50,
        version: int | None = None,
    ) -> Viewed[Data]:
        """A page of one of the collections that grow with the history (`record_pages.py`), now
        or at a version, and the version it was read at."""
        contract = self._visible(principal, contract_id)
        if version is not None:
            if not 1 <= version <= contract.version:
                raise InvalidQuery(f"version must be between 1 and {contract.version}")
            contract = self._load(contract.id, version=version)
        page = record_pages.page_of(contract, kind, after=after, limit=limit)
        return Viewed(contract.version, contract.head_digest, page)

    def indicator_dashboard(
        self, principal: Principal, contract_id: str
    ) -> Viewed[list[IndicatorRow]]:
        """The dashboard rows, and the contract version they answer for (one load)."""
        contract = self._visible(principal, contract_id)
        store = self._read_models()
        self._catch_up()
        with self._store_errors():
            rows = store.indicators(contract.id.hex)
        return Viewed(contract.version, contract.head_digest, rows)

    def indicator_history(
        self, principal: Principal, contract_id: str, indicator_id: str
    ) -> Viewed[IndicatorHistoryData]:
        """Every version of an indicator with the dialogue behind it, and the contract version
        it was read at."""
        contract = self._visible(principal, contract_id)
        with self._store_errors():
            events = [
                event
                for event in self.events.get(contract.id, lte=contract.version)
                if isinstance(event, ContractEvent)
            ]
        found = history.indicator_history(contract, events, indicator_id)
        return Viewed(contract.version, contract.head_digest, found)

    def _granted(self, principal: Principal, contract_id: str) -> bool:
        """Does an access grant let this outside organisation audit the contract? (A damaged
        history that does not replay shows its verdict to the parties in its records only.)"""
        try:
            self._visible(principal, contract_id, audit=True)
        except (NotPermitted, StoreUnavailable):
            raise
        except Exception:
            return False
        return True

    def _require_auditor(self, principal: Principal) -> None:
        if not principal.can_audit():
            raise NotPermitted("history, diff and verification need the auditor role")


def _state_json(contract: Contract) -> bytes:
    """The current state as the API sends it."""
    return contract_state(contract).model_dump_json(by_alias=True).encode()
