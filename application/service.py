"""The contract service: one method per use case, on any event store the library offers.

Commands load the contract, call one command method, and save — retrying on a lost race for
the next version unless the caller pinned an expected version. They return `CommandResult`
(ids and the new version), never the aggregate. Queries return plain data (`application.dto`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import rfc8785
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    PersistenceError,
)

from application import audit
from application.dto import (
    ContractData,
    DiffData,
    HistoryPage,
    ProposalData,
    VerificationData,
    contract_data,
    proposal_data,
)
from application.errors import (
    ContractNotFound,
    HistoryCorrupt,
    IdempotencyKeyReused,
    InvalidQuery,
    NotPermitted,
    ReferenceTaken,
    StoreUnavailable,
    TooMuchContention,
    VersionMismatch,
)
from application.read_models import (
    ContractSummary,
    IndicatorRow,
    Projection,
    ReadModelStore,
    SummaryFilter,
)
from application.receipts import CommandReceipt, ReferenceClaim, claim_id, receipt_id
from application.snapshots import SealedSnapshotStore
from application.transcodings import register_domain_transcodings
from application.visibility import PartyGate
from domain.chain import canonical
from domain.contract import Contract
from domain.errors import DomainError
from domain.proposals import Change
from domain.values import Actor, Participant, Period, Role

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How often a command is re-run after losing the race for the next version (to a command in
#: another process: within one process, commands on one contract take turns).
MAX_ATTEMPTS = 60
#: How long a command waits for its turn on a busy contract before giving up (503).
COMMAND_QUEUE_SECONDS = 4.5


class KeyedLocks:
    """One lock per key (a contract), made on demand and dropped when nobody holds or awaits it.

    Commands on one contract in one process take turns instead of racing for the next version
    and retrying; a wait is bounded, so a store outage cannot queue requests for ever."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, _Queue] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[Turn]:
        with self._guard:
            queue = self._locks.setdefault(key, _Queue())
            queue.users += 1
        turn = Turn(queue, time.monotonic())
        try:
            if not queue.lock.acquire(timeout=self.timeout):
                raise TooMuchContention(
                    f"contract {key} is busy: no turn within {self.timeout:g} s; try again"
                )
            try:
                yield turn
            finally:
                queue.lock.release()
        finally:
            with self._guard:
                queue.users -= 1
                if queue.users == 0:
                    del self._locks[key]


class _Queue:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.store_failed_at = float("-inf")


@dataclass
class Turn:
    """One command's turn on a contract."""

    queue: _Queue
    waiting_since: float

    @property
    def store_failed_while_waiting(self) -> bool:
        """Did the store fail a command on this contract while this one waited its turn?"""
        return self.queue.store_failed_at > self.waiting_since

    def store_failed(self) -> None:
        self.queue.store_failed_at = time.monotonic()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who, for which organisation, in which roles."""

    subject: str
    name: str
    org: str
    roles: frozenset[str]

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: one person acting for one organisation."""
        return f"{self.org}\n{self.subject}"

    def actor(self) -> Actor:
        return Actor(subject=self.subject, name=self.name, org=self.org, role=self._acting_role())

    def _acting_role(self) -> str:
        return (
            Role.CONTRACT_MANAGER if Role.CONTRACT_MANAGER in self.roles else sorted(self.roles)[0]
        )

    def can_write(self) -> bool:
        return Role.CONTRACT_MANAGER in self.roles

    def can_audit(self) -> bool:
        return bool({Role.CONTRACT_MANAGER, Role.AUDITOR} & self.roles)


@dataclass(frozen=True)
class CommandResult:
    """What a command leaves behind: the contract's new version and what it created."""

    contract_id: str
    version: int
    head_digest: str
    #: the id of the record the command created or acted on (session, proposal, …)
    created_id: str | None = None
    replayed: bool = False
    #: what the caller asked to see of the contract right after the command (not stored)
    view: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "version": self.version,
            "head_digest": self.head_digest,
            "created_id": self.created_id,
        }


class ContractService(Application[UUID]):
    name = "dialoog"
    # No aggregate cache: the library serialises fast-forwarding of a cached aggregate behind
    # one lock per contract, so during an outage concurrent requests would time out one after
    # another (n × the connect timeout). Snapshots bound every replay instead.
    env = {"IS_SNAPSHOTTING_ENABLED": "y"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        snapshot_interval: int = 50,
        read_models: ReadModelStore | None = None,
        snapshot_key: bytes | None = None,
    ) -> None:
        # Without a configured key, snapshots are sealed with one this instance alone knows:
        # correct, but another process (or a restart) cannot use them.
        self._snapshot_key = snapshot_key or secrets.token_bytes(32)
        # Snapshots bound the replay behind every read, including reads at a past version.
        self.snapshotting_intervals = (  # type: ignore[misc]
            {Contract: snapshot_interval} if snapshot_interval > 0 else {}
        )
        with self._store_errors():
            super().__init__(env)
        self._contract_locks = KeyedLocks(timeout=COMMAND_QUEUE_SECONDS)
        self._party_gate = PartyGate(self._head_version)
        self.projection: Projection | None = None
        if read_models is not None:
            self.projection = Projection(
                store=read_models,
                read_notifications=self._read_notifications,
                load=self._load_for_projection,
            )

    def close(self) -> None:
        if self.projection is not None:
            self.projection.store.close()
        super().close()

    def construct_snapshot_store(self) -> EventStore[UUID]:
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return SealedSnapshotStore(mapper=self.mapper, recorder=recorder, key=self._snapshot_key)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # Setup ---------------------------------------------------------------------------------

    def open_contract(
        self,
        principal: Principal,
        *,
        reference: str,
        title: str,
        assignment: str,
        procedure: str,
        term: Period,
        ceiling: Decimal,
        budget_period: Period,
        idempotency_key: str | None = None,
        view: Callable[[Contract, str | None], Any] | None = None,
    ) -> CommandResult:
        """The caller's organisation opens a contract and becomes its commissioner."""
        self._require_writer(principal)
        arguments = {
            "reference": reference,
            "title": title,
            "assignment": assignment,
            "procedure": procedure,
            "term": term,
            "ceiling": ceiling,
            "budget_period": budget_period,
        }
        fingerprint = _fingerprint("open_contract", "", arguments)
        replay = self._replay(principal, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        contract = Contract.open(actor=principal.actor(), **arguments)  # type: ignore[arg-type]
        claim = ReferenceClaim(
            commissioner=contract.commissioner,
            reference=contract.reference,
            contract_id=contract.id.hex,
        )
        result = CommandResult(contract.id.hex, contract.version, contract.head_digest)
        pending: list[Any] = [contract, claim]
        receipt = self._receipt(principal, idempotency_key, fingerprint, result)
        if receipt is not None:
            pending.append(receipt)
        try:
            with self._store_errors():
                self.save(*pending)
        except IntegrityError:
            replay = self._replay(principal, idempotency_key, fingerprint)
            if replay is not None:
                return replay
            raise ReferenceTaken(
                f"{contract.commissioner} already has a contract with reference "
                f"{contract.reference!r}"
            ) from None
        if view is not None:
            return replace(result, view=view(contract, None))
        return result

    def admit_provider(
        self,
        principal: Principal,
        contract_id: str,
        *,
        org: str,
        name: str,
        rationale: str,
        **options: Any,
    ) -> CommandResult:
        return self._command(
            principal,
            contract_id,
            "admit_provider",
            lambda c, a: c.admit_provider(actor=a, org=org, name=name, rationale=rationale),
            {"org": org, "name": name, "rationale": rationale},
            **options,
        )

    def withdraw_provider(
        self, principal: Principal, contract_id: str, *, org: str, reason: str, **options: Any
    ) -> CommandResult:
        return self._command(
            principal,
            contract_id,
            "withdraw_provider",
            lambda c, a: c.withdraw_provider(actor=a, org=org, reason=reason),
            {"org": org, "reason": reason},
            **options,
        )

    def register_stakeholder(
        self,
        principal: Principal,
        contract_id: str,
        *,
        name: str,
        kind: str,
        contact: str = "",
        **options: Any,
    ) -> CommandResult:
        return self._command(
            principal,
            contract_id,
            "register_stakeholder",
            lambda c, a: c.register_stakeholder(actor=a, name=name, kind=kind, contact=contact),
            {"name": name, "kind": kind, "contact": contact},
            **options,
        )

    # Dialogue ------------------------------------------------------------------------------

    def hold_session(
        self,
        principal: Principal,
        contract_id: str,
        *,
        held_on: date,
        kind: str,
        participants: list[Participant],
        minutes_ref: str,
        summary: str,
        **options: Any,
    ) -> CommandResult:
        arguments = {
            "held_on": held_on,
            "kind": kind,
            "participants": tuple(participants),
            "minutes_ref": minutes_ref,
            "summary": summary,
        }
        return self._command(
            principal,
            contract_id,
            "hold_session",
            lambda c, a: c.hold_session(actor=a, **arguments),  # type: ignore[arg-type]
            arguments,
            **options,
        )

    def submit_proposal(
        self,
        principal: Principal,
        contract_id: str,
        *,
        session_id: str | None,
        change: Change,
        rationale: str,
        **options: Any,
    ) -> CommandResult:
        return self._command(
            principal,
            contract_id,
            "submit_proposal",
            lambda c, a: c.submit_proposal(
                actor=a, session_id=session_id, change=change, rationale=rationale
            ),
            {"session_id": session_id, "change": change, "rationale": rationale},
            **options,
        )

    def give_consent(
        self,
        principal: Principal,
        contract_id: str,
        proposal_id: str,
        *,
        on_behalf_of: str | None = None,
        session_id: str | None = None,
        **options: Any,
    ) -> CommandResult:
        """A party consents (in a session of its choosing, else the proposal's own session)."""
        return self._command(
            principal,
            contract_id,
            "give_consent",
            _answering(
                proposal_id,
                lambda c, a: c.give_consent(
                    actor=a,
                    proposal_id=proposal_id,
                    on_behalf_of=on_behalf_of,
                    session_id=session_id,
                ),
            ),
            {"proposal_id": proposal_id, "on_behalf_of": on_behalf_of, "session_id": session_id},
            **options,
        )

    def reject_proposal(
        self,
        principal: Principal,
        contract_id: str,
        proposal_id: str,
        *,
        reason: str,
        **options: Any,
    ) -> CommandResult:
        return self._closing_proposal(
            principal, contract_id, proposal_id, Contract.reject_proposal, reason, options
        )

    def withdraw_proposal(
        self,
        principal: Principal,
        contract_id: str,
        proposal_id: str,
        *,
        reason: str,
        **options: Any,
    ) -> CommandResult:
        return self._closing_proposal(
            principal, contract_id, proposal_id, Contract.withdraw_proposal, reason, options
        )

    def _closing_proposal(
        self,
        principal: Principal,
        contract_id: str,
        proposal_id: str,
        close: Callable[..., None],
        reason: str,
        options: dict[str, Any],
    ) -> CommandResult:
        """Reject or withdraw: a party closes an open proposal, giving its reason."""
        return self._command(
            principal,
            contract_id,
            close.__name__,
            _answering(
                proposal_id,
                lambda c, a: close(c, actor=a, proposal_id=proposal_id, reason=reason),
            ),
            {"proposal_id": proposal_id, "reason": reason},
            **options,
        )

    # Monitoring, transparency, lifecycle ---------------------------------------------------

    def record_measurement(
        self,
        principal: Principal,
        contract_id: str,
        indicator_id: str,
        *,
        period: Period,
        value: Decimal,
        source: str,
        indicator_version: int | None = None,
        **options: Any,
    ) -> CommandResult:
        arguments = {
            "indicator_id": indicator_id,
            "period": period,
            "value": value,
            "source": source,
            "indicator_version": indicator_version,
        }
        return self._command(
            principal,
            contract_id,
            "record_measurement",
            lambda c, a: c.record_measurement(actor=a, **arguments),  # type: ignore[arg-type]
            arguments,
            **options,
        )

    def issue_publication(
        self,
        principal: Principal,
        contract_id: str,
        *,
        audience: str,
        channel: str,
        summary: str,
        **options: Any,
    ) -> CommandResult:
        arguments = {"audience": audience, "channel": channel, "summary": summary}
        return self._command(
            principal,
            contract_id,
            "issue_publication",
            lambda c, a: c.issue_publication(actor=a, **arguments),
            arguments,
            **options,
        )

    def consult_residents(
        self,
        principal: Principal,
        contract_id: str,
        *,
        held_on: date,
        method: str,
        summary: str,
        participants_count: int,
        **options: Any,
    ) -> CommandResult:
        arguments = {
            "held_on": held_on,
            "method": method,
            "summary": summary,
            "participants_count": participants_count,
        }
        return self._command(
            principal,
            contract_id,
            "consult_residents",
            lambda c, a: c.consult_residents(actor=a, **arguments),  # type: ignore[arg-type]
            arguments,
            **options,
        )

    def change_status(
        self,
        principal: Principal,
        contract_id: str,
        transition: str,
        *,
        reason: str = "",
        decision_ref: str | None = None,
        **options: Any,
    ) -> CommandResult:
        """activate, suspend, resume, terminate or complete the contract."""

        def act(contract: Contract, actor: Actor) -> None:
            if transition == "activate":
                contract.activate(actor=actor, reason=reason)
            elif transition == "suspend":
                contract.suspend(actor=actor, reason=reason, decision_ref=decision_ref)
            elif transition == "resume":
                contract.resume(actor=actor, reason=reason)
            elif transition == "terminate":
                contract.terminate(actor=actor, reason=reason, decision_ref=decision_ref)
            elif transition == "complete":
                contract.complete(actor=actor, reason=reason)
            else:
                raise InvalidQuery(f"{transition!r} is not a lifecycle transition")

        return self._command(
            principal,
            contract_id,
            transition,
            act,
            {"reason": reason, "decision_ref": decision_ref},
            **options,
        )

    def record_evaluation(
        self,
        principal: Principal,
        contract_id: str,
        *,
        held_on: date,
        summary: str,
        conclusions: str,
        **options: Any,
    ) -> CommandResult:
        arguments = {"held_on": held_on, "summary": summary, "conclusions": conclusions}
        return self._command(
            principal,
            contract_id,
            "record_evaluation",
            lambda c, a: c.record_evaluation(actor=a, **arguments),  # type: ignore[arg-type]
            arguments,
            **options,
        )

    def correct(
        self,
        principal: Principal,
        contract_id: str,
        *,
        corrects_version: int,
        corrections: dict[str, str],
        reason: str,
        **options: Any,
    ) -> CommandResult:
        arguments = {
            "corrects_version": corrects_version,
            "corrections": corrections,
            "reason": reason,
        }
        return self._command(
            principal,
            contract_id,
            "correct",
            lambda c, a: c.correct(actor=a, **arguments),  # type: ignore[arg-type]
            arguments,
            **options,
        )

    # Queries -------------------------------------------------------------------------------

    def get_contract(
        self,
        principal: Principal,
        contract_id: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        in_force_on: date | None = None,
    ) -> ContractData:
        """The contract now, at a version, as recorded at a moment, or in force on a date."""
        if sum(x is not None for x in (version, as_of, in_force_on)) > 1:
            raise InvalidQuery("ask for at most one of version, asOf and inForceOn")
        contract = self._visible(principal, contract_id)
        if version is not None:
            if not 1 <= version <= contract.version:
                raise InvalidQuery(f"version must be between 1 and {contract.version}")
            contract = self._load(contract.id, version=version)
        elif as_of is not None:
            found = audit.version_at(self.recorder, contract.id, contract.version, as_of)
            if found is None:
                raise InvalidQuery(f"the contract did not exist yet at {as_of.isoformat()}")
            contract = self._load(contract.id, version=found)
        elif in_force_on is not None:
            with self._store_errors():
                events = self.events.get(contract.id)
                contract = audit.in_force_on(events, in_force_on)
        return contract_data(contract)

    def view_at(
        self,
        principal: Principal,
        contract_id: str,
        version: int,
        view: Callable[[Contract, str | None], T],
        created_id: str | None = None,
    ) -> T:
        """A view of the contract at a version (to answer a replayed command as the first time)."""
        contract = self._visible(principal, contract_id)
        if version > contract.version:
            # A receipt names a version the stored history no longer reaches: rows were removed.
            raise HistoryCorrupt(
                f"a command receipt names version {version} of contract {contract.id.hex}, past "
                f"its stored head {contract.version}; ask for its verification"
            )
        if version != contract.version:
            contract = self._load(contract.id, version=version)
        return view(contract, created_id)

    def get_proposal(
        self,
        principal: Principal,
        contract_id: str,
        proposal_id: str,
        *,
        version: int | None = None,
    ) -> ProposalData:
        contract = self._visible(principal, contract_id)
        if version is not None and version != contract.version:
            contract = self._load(contract.id, version=version)
        proposal = contract.proposals.get(proposal_id)
        if proposal is None:
            raise ContractNotFound(f"no proposal {proposal_id} on contract {contract_id}")
        return proposal_data(contract, proposal)

    def history(
        self, principal: Principal, contract_id: str, *, after: int = 0, limit: int = 50
    ) -> HistoryPage:
        self._require_auditor(principal)
        contract = self._visible(principal, contract_id)
        with self._store_errors():
            return audit.history_page(self.events, contract.id, after=after, limit=limit)

    def diff(
        self, principal: Principal, contract_id: str, *, from_version: int, to_version: int
    ) -> DiffData:
        self._require_auditor(principal)
        contract = self._visible(principal, contract_id)
        for v in (from_version, to_version):
            if not 1 <= v <= contract.version:
                raise InvalidQuery(f"versions run from 1 to {contract.version}")
        before = self._load(contract.id, version=from_version)
        after = self._load(contract.id, version=to_version)
        return audit.diff(before, after)

    def verify(
        self, principal: Principal, contract_id: str, *, snapshots: bool = False
    ) -> VerificationData:
        """Check the hash chain of the stored events; with `snapshots`, also every snapshot's
        seal (reads skip a broken one anyway, so this only tells whether anyone tried)."""
        self._require_auditor(principal)
        uuid = _contract_uuid(contract_id)
        try:
            # Visibility from the cheap read (a snapshot and the events after it) before the
            # replay of the whole history: another organisation's contract costs a missing one.
            self._visible(principal, contract_id)
        except (ContractNotFound, StoreUnavailable):
            raise
        except Exception:  # a damaged history may not replay: the chain below decides
            log.info("verification of %s: the contract does not replay", uuid.hex)
        with self._store_errors():
            # One pass over the stored records gives both the verdict and who may see it
            # (from the records themselves: a tampered history may no longer replay).
            verdict, parties = audit.verify_chain(self.recorder, uuid)
        if principal.org not in parties:
            raise ContractNotFound(f"no contract {contract_id}")
        if not snapshots or not verdict.valid or self.snapshots is None:
            return verdict
        with self._store_errors():
            checked, broken = audit.check_snapshot_seals(
                self.snapshots.recorder, uuid, self._snapshot_key
            )
        if not broken:
            return verdict.model_copy(update={"snapshots_checked": checked})
        return verdict.model_copy(
            update={
                "valid": False,
                "snapshots_checked": checked,
                "first_invalid_version": broken[0],
                "reason": f"the snapshot at version {broken[0]} fails its seal (altered, moved or "
                "written under another key); reads skip it",
            }
        )

    def list_contracts(self, principal: Principal, query: SummaryFilter) -> list[ContractSummary]:
        store = self._read_models()
        self._catch_up()
        with self._store_errors():
            return store.summaries(
                SummaryFilter(
                    visible_to=principal.org,
                    status=query.status,
                    text=query.text,
                    after=query.after,
                    limit=query.limit,
                )
            )

    def indicator_dashboard(self, principal: Principal, contract_id: str) -> list[IndicatorRow]:
        contract = self._visible(principal, contract_id)
        store = self._read_models()
        self._catch_up()
        with self._store_errors():
            return store.indicators(contract.id.hex)

    def rebuild_read_models(self, progress: Callable[[int], None] | None = None) -> int:
        if self.projection is None:
            raise InvalidQuery("this service keeps no read models")
        with self._store_errors():
            return self.projection.rebuild(progress)

    def notification_count(self) -> int:
        with self._store_errors():
            return self.recorder.max_notification_id() or 0

    def ping(self) -> None:
        """Raise StoreUnavailable unless the event store answers."""
        with self._store_errors():
            self.recorder.max_notification_id()

    # The machinery -------------------------------------------------------------------------

    def _command(
        self,
        principal: Principal,
        contract_id: str,
        name: str,
        action: Callable[[Contract, Actor], str | None],
        arguments: dict[str, Any],
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        view: Callable[[Contract, str | None], Any] | None = None,
    ) -> CommandResult:
        self._require_writer(principal)
        fingerprint = _fingerprint(name, contract_id, arguments)
        replay = self._replay(principal, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        actor = principal.actor()
        with self._contract_locks.hold(contract_id) as turn:
            if turn.store_failed_while_waiting:
                # The store failed the command ahead of this one: answer now rather than queue
                # every waiter behind its own timeout.
                raise StoreUnavailable("the event store failed for the command before this one")
            # A repeat may have been carried out by another process while this one waited.
            replay = self._replay(principal, idempotency_key, fingerprint)
            if replay is not None:
                return replay
            try:
                return self._run(
                    principal,
                    contract_id,
                    name,
                    action,
                    actor,
                    fingerprint,
                    expected_version=expected_version,
                    idempotency_key=idempotency_key,
                    view=view,
                )
            except StoreUnavailable:
                turn.store_failed()
                raise
            except DomainError:
                # The first of two racing repeats may have changed what the rules allow
                # (already consented, no longer open): answer the repeat as the first time.
                replay = self._replay(principal, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                raise

    def _run(
        self,
        principal: Principal,
        contract_id: str,
        name: str,
        action: Callable[[Contract, Actor], str | None],
        actor: Actor,
        fingerprint: str,
        *,
        expected_version: int | None,
        idempotency_key: str | None,
        view: Callable[[Contract, str | None], Any] | None,
    ) -> CommandResult:
        for attempt in range(MAX_ATTEMPTS):
            contract = self._visible(principal, contract_id)
            if expected_version is not None and contract.version != expected_version:
                raise VersionMismatch(expected_version, contract.version)
            created_id = action(contract, actor)
            result = CommandResult(
                contract.id.hex, contract.version, contract.head_digest, created_id
            )
            pending: list[Any] = [contract]
            receipt = self._receipt(principal, idempotency_key, fingerprint, result)
            if receipt is not None:
                pending.append(receipt)
            try:
                with self._store_errors():
                    self.save(*pending)
            except IntegrityError:
                replay = self._replay(principal, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                if expected_version is not None:
                    actual = self._visible(principal, contract_id).version
                    raise VersionMismatch(expected_version, actual) from None
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))  # noqa: S311
                continue
            if view is not None:
                return replace(result, view=view(contract, created_id))
            return result
        raise TooMuchContention(f"{name} lost the race for contract {contract_id} too often")

    def _replay(
        self, principal: Principal, key: str | None, fingerprint: str
    ) -> CommandResult | None:
        if key is None:
            return None
        try:
            with self._store_errors():
                receipt: Any = self.repository.get(receipt_id(principal.scope, key))
        except AggregateNotFoundError:
            return None
        if not isinstance(receipt, CommandReceipt):
            return None
        if receipt.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was used for a different command; use a new key"
            )
        return CommandResult(**receipt.result, replayed=True)

    @staticmethod
    def _receipt(
        principal: Principal, key: str | None, fingerprint: str, result: CommandResult
    ) -> CommandReceipt | None:
        if key is None:
            return None
        return CommandReceipt(
            subject=principal.scope, key=key, fingerprint=fingerprint, result=result.as_dict()
        )

    def _visible(self, principal: Principal, contract_id: str) -> Contract:
        """The contract, if the caller's organisation is party to it (else it does not exist)."""
        uuid = _contract_uuid(contract_id)
        if self._party_gate.surely_hidden(uuid, principal.org):  # costs what a missing id costs
            raise ContractNotFound(f"no contract {contract_id}")
        contract = self._load(uuid)
        self._party_gate.remember(uuid, contract.version, contract.parties)
        # Visible to its parties now: the commissioner and the active providers (the contract
        # list applies the same rule); a provider that withdrew no longer sees it.
        if principal.org not in contract.parties:
            raise ContractNotFound(f"no contract {contract_id}")
        return contract

    def _head_version(self, contract_id: UUID) -> int | None:
        with self._store_errors():
            last = self.recorder.select_events(contract_id, desc=True, limit=1)
        return last[0].originator_version if last else None

    def _load(self, contract_id: UUID, version: int | None = None) -> Contract:
        try:
            with self._store_errors():
                contract: Any = self.repository.get(contract_id, version=version)
        except AggregateNotFoundError:
            raise ContractNotFound(f"no contract {contract_id.hex}") from None
        except (OriginatorVersionError, OriginatorIDError) as error:
            raise HistoryCorrupt(
                f"the stored history of contract {contract_id.hex} does not replay ({error!r}); "
                "ask for its verification"
            ) from error
        if not isinstance(contract, Contract):
            raise ContractNotFound(f"no contract {contract_id.hex}")
        return contract

    def _require_writer(self, principal: Principal) -> None:
        if not principal.can_write():
            raise NotPermitted("recording changes needs the contract_manager role")

    def _require_auditor(self, principal: Principal) -> None:
        if not principal.can_audit():
            raise NotPermitted("history, diff and verification need the auditor role")

    def _read_models(self) -> ReadModelStore:
        if self.projection is None:
            raise InvalidQuery("this service keeps no read models")
        return self.projection.store

    def _catch_up(self) -> None:
        """Bring the read models up to date before reading them, so a client reads its own
        writes. Commands do not wait for this: a command costs one commit, not two."""
        if self.projection is None:
            return
        # A store that fails here fails the read too: answering now keeps the whole request
        # within the 5 s deadline instead of waiting for the read models' own timeout after it.
        with self._store_errors():
            self.projection.catch_up()

    def _read_notifications(self, start: int, limit: int) -> list[tuple[int, str, str]]:
        notifications = self.recorder.select_notifications(start=start, limit=limit)
        return [(n.id, UUID(str(n.originator_id)).hex, n.topic) for n in notifications]

    def _load_for_projection(self, contract_id: str) -> Contract | None:
        try:
            contract: Any = self.repository.get(UUID(hex=contract_id))
        except AggregateNotFoundError:
            return None
        return contract if isinstance(contract, Contract) else None

    @contextlib.contextmanager
    def _store_errors(self) -> Iterator[None]:
        """A store that fails or does not answer surfaces as StoreUnavailable."""
        try:
            yield
        except IntegrityError:
            raise
        except PersistenceError as error:
            raise StoreUnavailable(
                f"the event store is unavailable: {_first_line(error)}"
            ) from error
        except TimeoutError as error:
            raise StoreUnavailable("the event store did not answer in time") from error


def _answering(
    record_id: str, act: Callable[[Contract, Actor], object]
) -> Callable[[Contract, Actor], str]:
    """A command on an existing record whose result names that record (for its view)."""

    def run(contract: Contract, actor: Actor) -> str:
        act(contract, actor)
        return record_id

    return run


def _contract_uuid(contract_id: str) -> UUID:
    try:
        return UUID(hex=contract_id)
    except (ValueError, TypeError, AttributeError):
        raise ContractNotFound(f"no contract {contract_id}") from None


def _fingerprint(name: str, contract_id: str, arguments: dict[str, Any]) -> str:
    document = {"command": name, "contract": contract_id, "arguments": canonical(arguments)}
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


__all__ = ["CommandResult", "ContractService", "Principal", "claim_id"]
