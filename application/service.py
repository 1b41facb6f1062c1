"""The contract service: `handle(principal, command)` for every use case, on any event store the
library offers (the queries are in `ContractQueries`).

A command loads the contract, executes (one command method of the aggregate) and saves —
retrying on a lost race for the next version unless the caller pinned an expected version. It
returns a `CommandResult` (ids and the new version) and, on request, a view of the contract it
left behind, never the aggregate.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.commands import CommandResult, ContractCommand, CorrectRecord, OpenContract
from application.contract_store import ContractStore, contract_uuid
from application.erasure import ErasureDone, apply_retention, erase, rectified_keys
from application.errors import (
    ApplicationError,
    HistoryCorrupt,
    NotPermitted,
    ReferenceTaken,
    StoreUnavailable,
    TooMuchContention,
    VersionMismatch,
)
from application.idempotency import fingerprint, receipt_for, recorded_result
from application.locks import COMMAND_QUEUE_SECONDS, KeyedLocks, Queued
from application.principal import Principal
from application.queries import ContractQueries
from application.read_models import ReadModelStore
from application.receipts import ReferenceClaim, claim_id
from application.rendering import render
from application.views import View
from domain.chain import sealing
from domain.contract import Contract
from domain.errors import DomainError

log = logging.getLogger("dialoog.service")

#: How often a command is re-run after losing the race for the next version (to a command in
#: another process: within one process, commands on one contract take turns).
MAX_ATTEMPTS = 60
#: At most this many commands queued on one contract in this process are carried out together
#: (one load, one commit); a command that finds the contract idle runs at once, alone.
MAX_COMBINED = 32


class ContractService(ContractQueries):
    # The library names an application after its class unless told (and names its tables and
    # environment after that): every class on the way down says "dialoog" again.
    name = "dialoog"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        snapshot_interval: int = 50,
        read_models: ReadModelStore | None = None,
        snapshot_key: bytes | None = None,
        social_services_threshold: Decimal | None = None,
        aggregate_cache_bytes: int = 0,
    ) -> None:
        #: the EU threshold recorded on contracts opened here (None: the domain's default)
        self.social_services_threshold = social_services_threshold
        super().__init__(
            env,
            snapshot_interval=snapshot_interval,
            read_models=read_models,
            snapshot_key=snapshot_key,
            aggregate_cache_bytes=aggregate_cache_bytes,
        )
        self._contract_locks = KeyedLocks(timeout=COMMAND_QUEUE_SECONDS)

    def handle(
        self,
        principal: Principal,
        command: OpenContract | ContractCommand,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        view: View | None = None,
    ) -> CommandResult:
        """Carry out a command once per idempotency key; with `view`, the result carries that
        view of the contract as the command left it (a repeat: as the first run left it)."""
        if not principal.can_write():
            raise NotPermitted("recording changes needs the contract_manager role")
        print_ = fingerprint(command)
        replay = self._replay(principal, idempotency_key, print_, view)
        if replay is not None:
            return replay
        if isinstance(command, OpenContract):
            return self._open(principal, command, idempotency_key, print_, view)
        asked = _Asked(principal, command, expected_version, idempotency_key, print_, view)
        return cast(
            CommandResult,
            self._contract_locks.combine(
                command.contract_id, asked, self._carry_out, most=MAX_COMBINED
            ),
        )

    def _open(
        self,
        principal: Principal,
        command: OpenContract,
        key: str | None,
        print_: str,
        view: View | None,
    ) -> CommandResult:
        with sealing(self.personal_data):
            return self._open_sealing(principal, command, key, print_, view)

    def _open_sealing(
        self,
        principal: Principal,
        command: OpenContract,
        key: str | None,
        print_: str,
        view: View | None,
    ) -> CommandResult:
        contract = command.open(principal.actor(), threshold=self.social_services_threshold)
        claim = ReferenceClaim(
            commissioner=contract.commissioner,
            reference=contract.reference,
            contract_id=contract.id.hex,
        )
        result = CommandResult(contract.id.hex, contract.version, contract.head_digest)
        try:
            logged = self._save(contract, claim, receipt_for(principal, key, print_, result))
        except IntegrityError:
            replay = self._replay(principal, key, print_, view)
            if replay is not None:
                return replay
            raise ReferenceTaken(
                f"{contract.commissioner} already has a contract with reference "
                f"{contract.reference!r}"
            ) from None
        return self._viewed(replace(result, log_indexes=logged), contract, view)

    def _carry_out(self, queued: list[Queued]) -> None:
        """Carry out the commands queued for one contract together: one load, each command in
        turn on the contract the one before left (each checked, and answered, as if alone), one
        atomic save of every command that passed with its receipt. A lost race for the next
        version runs them all again on the contract as now stored."""
        uuid = contract_uuid(cast(_Asked, queued[0].work).command.contract_id)
        with self.personal_data.reading(uuid.hex), sealing(self.personal_data):
            todo = self._first_runs(queued)
            for attempt in range(MAX_ATTEMPTS):
                if not todo:
                    return
                contract = self._load_for_change(uuid)
                outcomes: list[_Outcome] = []
                for item in todo:
                    outcomes.append(self._apply(contract, item))
                    if outcomes[-1].spoilt:
                        break
                if outcomes[-1].spoilt:
                    # It failed after changing the contract in hand: it alone is refused, the
                    # others run again on a fresh load.
                    spoilt = outcomes[-1]
                    spoilt.item.finish(error=spoilt.error)
                    todo.remove(spoilt.item)
                    self.forget_cached(uuid)
                    continue
                passed = [outcome for outcome in outcomes if outcome.error is None]
                if passed:
                    try:
                        logged = self._save(contract, *(outcome.receipt for outcome in passed))
                    except IntegrityError:
                        todo = self._after_lost_race(uuid, todo)
                        time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))  # noqa: S311
                        continue
                    self._give_log_indexes(passed, logged)
                # The stored ones first, then the refused (whose answer may read the store);
                # corrections once the texts they replace are erased (their callers then read
                # them erased).
                for outcome in passed:
                    if not outcome.rectified:
                        self._answer(outcome)
                for outcome in outcomes:
                    if outcome.error is not None:
                        self._answer(outcome)
                self._erase_rectified(contract, passed)
                for outcome in passed:
                    if outcome.rectified:
                        self._answer(outcome)
                return
            for item in todo:
                command = cast(_Asked, item.work).command
                item.finish(
                    error=TooMuchContention(
                        f"{command.fingerprint_name} lost the race for contract "
                        f"{command.contract_id} too often"
                    )
                )

    def _first_runs(self, queued: list[Queued]) -> list[Queued]:
        """Answer the repeats of commands already carried out; put back a second command under
        a key one before it uses (it is answered once that one's receipt is stored)."""
        todo: list[Queued] = []
        keys: set[tuple[str, str]] = set()
        for item in queued:
            asked = cast(_Asked, item.work)
            if asked.key is not None and (asked.principal.scope, asked.key) in keys:
                item.put_back = True
                continue
            try:
                replay = self._replay(asked.principal, asked.key, asked.print_, asked.view)
            except StoreUnavailable:
                raise
            except ApplicationError as error:
                item.finish(error=error)
                continue
            if replay is not None:
                item.finish(replay)
                continue
            if asked.key is not None:
                keys.add((asked.principal.scope, asked.key))
            todo.append(item)
        return todo

    def _apply(self, contract: Contract, item: Queued) -> _Outcome:
        """One command on the contract in hand, as far as its rules allow."""
        asked = cast(_Asked, item.work)
        command = asked.command
        events_before = len(contract.pending_events)
        rectified: list[str] = []
        try:
            self._check_sees(asked.principal, contract, command.contract_id)
            if asked.expected_version is not None and contract.version != asked.expected_version:
                raise VersionMismatch(asked.expected_version, contract.version)
            actor = asked.principal.actor()
            with contract.taking_effect_on(command.effective_on):
                created_id = command.execute(contract, actor)
            # A correction of a personal text erases the text it replaces (rectification).
            if isinstance(command, CorrectRecord):
                rectified = rectified_keys(self, contract, command)
                if rectified:
                    contract.record_erasure(
                        actor=actor,
                        grounds="rectification",
                        legal_basis="AVG art. 16 (rectificatie)",
                        reason=command.reason,
                        key_ids=rectified,
                        record_version=command.corrects_version,
                    )
            # the view as this command left the contract (the next one changes it)
            view = None if asked.view is None else render(asked.view, contract, created_id)
        except StoreUnavailable:
            raise
        except Exception as error:
            spoilt = len(contract.pending_events) != events_before or not isinstance(
                error, DomainError | ApplicationError
            )
            return _Outcome(item, error=error, spoilt=spoilt)
        result = CommandResult(contract.id.hex, contract.version, contract.head_digest, created_id)
        return _Outcome(
            item,
            result=result,
            receipt=receipt_for(asked.principal, asked.key, asked.print_, result),
            events=len(contract.pending_events) - events_before,
            view=view,
            rectified=rectified,
        )

    def _after_lost_race(self, uuid: UUID, todo: list[Queued]) -> list[Queued]:
        """After another process took the next version: answer the commands it carried out
        already (repeats) and those pinned to a version now gone; the rest run again."""
        again: list[Queued] = []
        head: int | None = None
        for item in todo:
            asked = cast(_Asked, item.work)
            try:
                replay = self._replay(asked.principal, asked.key, asked.print_, asked.view)
            except StoreUnavailable:
                raise  # nothing of this turn was stored: every command in it is answered so
            except ApplicationError as error:  # this command's own (a key reused, say)
                item.finish(error=error)
                continue
            if replay is not None:
                item.finish(replay)
            elif asked.expected_version is not None:
                head = self._head_version(uuid) if head is None else head
                item.finish(error=VersionMismatch(asked.expected_version, head or 0))
            else:
                again.append(item)
        return again

    @staticmethod
    def _give_log_indexes(passed: list[_Outcome], logged: tuple[int, ...]) -> None:
        """Give each saved command its leaf indexes (none when they could not be read)."""
        if len(logged) == sum(outcome.events for outcome in passed):
            for outcome in passed:
                outcome.log_indexes, logged = logged[: outcome.events], logged[outcome.events :]

    def _erase_rectified(self, contract: Contract, passed: list[_Outcome]) -> None:
        """Destroy the keys of the texts the saved corrections replaced (their erasure events
        are stored with them); keep the contract for the next command. A failure leaves the
        keys to `finish_erasures` (run before every retention run), which destroys the keys an
        erasure event names and that are still there: the corrections were answered, and are
        stored."""
        rectified = [key for outcome in passed for key in outcome.rectified]
        if not rectified:
            if self.aggregate_cache is not None:
                # As saved, handed over as it is: the next command starts from it (no copy).
                self.aggregate_cache.keep_live(contract)
            return
        self.forget_cached(contract.id)
        try:
            self.personal_data.destroy(contract.id.hex, rectified)
        except Exception:
            log.exception(
                "contract %s: the keys a stored correction erased were not destroyed now; "
                "`dialoog retention apply` destroys them (finish_erasures)",
                contract.id.hex,
            )

    def _answer(self, outcome: _Outcome) -> None:
        item, asked = outcome.item, cast(_Asked, outcome.item.work)
        if outcome.error is None:
            result = cast(CommandResult, outcome.result)
            item.finish(replace(result, log_indexes=outcome.log_indexes, view=outcome.view))
            return
        if isinstance(outcome.error, DomainError):
            # The first of two racing repeats may have changed what the rules allow (already
            # consented, no longer open): answer the repeat as the first time. The others of
            # the turn are stored already: a failure to ask leaves this answer as it was.
            try:
                replay = self._replay(asked.principal, asked.key, asked.print_, asked.view)
            except ApplicationError:
                replay = None
            if replay is not None:
                item.finish(replay)
                return
        item.finish(error=outcome.error)

    def erase(
        self,
        principal: Principal,
        *,
        reason: str,
        legal_basis: str,
        subject: str | None = None,
        record: tuple[str, int] | None = None,
    ) -> list[ErasureDone]:
        """Erase personal data (application/erasure.py): a privacy officer's request."""
        return erase(
            self, principal, reason=reason, legal_basis=legal_basis, subject=subject, record=record
        )

    def apply_retention(self, *, years: int, today: date) -> list[ErasureDone]:
        """Erase the personal data of contracts that ended more than `years` before `today`."""
        return apply_retention(self, years=years, today=today)

    def record_erasure(
        self, contract_id: UUID, record: Callable[[Contract], list[str]]
    ) -> tuple[Contract, list[str]]:
        """Store the erasure event `record` triggers on the contract as stored now (retried when
        another command took the next version first); the keys it names, which the caller
        destroys once it is stored."""
        with (
            self._contract_locks.hold(contract_id.hex),
            self.personal_data.reading(contract_id.hex),
            sealing(self.personal_data),
        ):
            for attempt in range(MAX_ATTEMPTS):
                contract = self._load(contract_id)
                keys = record(contract)
                try:
                    self._save(contract)
                except IntegrityError:
                    time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))  # noqa: S311
                    continue
                return contract, keys
        raise TooMuchContention(f"the erasure lost the race for contract {contract_id} too often")

    def forget_cached(self, contract_id: UUID) -> None:
        """Drop this process's copy of a contract (it held texts that were erased)."""
        if self.aggregate_cache is not None:
            self.aggregate_cache.discard(contract_id)

    def _save(self, *pending: Any) -> tuple[int, ...]:
        """Save atomically; the transparency log's leaf indexes of the contract events saved
        (none when reading them fails after the commit: what was saved stays saved, and its
        answer without them is still true)."""
        with self._store_errors():
            recordings = self.save(*(item for item in pending if item is not None))
        try:
            with self._store_errors():
                return self.log_indexes_of(recordings)
        except StoreUnavailable as error:
            log.warning("saved, but its leaf indexes could not be read: %s", error)
            return ()

    def _replay(
        self, principal: Principal, key: str | None, print_: str, view: View | None
    ) -> CommandResult | None:
        """The first run's result under this key; with a view, rendered from one load of the
        contract at the version that run left."""
        with self._store_errors():
            result = recorded_result(self.repository, principal, key, print_)
        if result is None:
            return result
        head = self._head_version(contract_uuid(result.contract_id))
        if head is None or result.version > head:
            # A receipt names a version the stored history no longer reaches: rows were removed.
            raise HistoryCorrupt(
                f"a command receipt names version {result.version} of contract "
                f"{result.contract_id}, past its stored head {head}; ask for its verification"
            )
        if view is None:
            return result
        contract = self._visible(principal, result.contract_id, result.version)
        return self._viewed(result, contract, view)

    @staticmethod
    def _viewed(result: CommandResult, contract: Contract, view: View | None) -> CommandResult:
        if view is None:
            return result
        return replace(result, view=render(view, contract, result.created_id))


@dataclass(frozen=True)
class _Asked:
    """A command as its caller asked for it, queued for the contract's turn."""

    principal: Principal
    command: ContractCommand
    expected_version: int | None
    key: str | None
    print_: str
    view: View | None


@dataclass
class _Outcome:
    """What one command of a turn did to the contract in hand (not saved yet)."""

    item: Queued
    error: Exception | None = None
    #: failed after changing the contract in hand, which is then of no further use
    spoilt: bool = False
    result: CommandResult | None = None
    receipt: Any = None
    events: int = 0
    view: Any = None
    rectified: list[str] = field(default_factory=list)
    log_indexes: tuple[int, ...] = ()


__all__ = ["CommandResult", "ContractService", "ContractStore", "Principal", "claim_id"]
