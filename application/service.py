"""The contract service: `handle(principal, command)` for every use case, on any event store the
library offers (the queries are in `ContractQueries`).

A command loads the contract, executes (one command method of the aggregate) and saves —
retrying on a lost race for the next version unless the caller pinned an expected version. It
returns a `CommandResult` (ids and the new version) and, on request, a view of the contract it
left behind, never the aggregate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.commands import CommandResult, ContractCommand, CorrectRecord, OpenContract
from application.contract_store import ContractStore, contract_uuid
from application.erasure import ErasureDone, apply_retention, erase, rectified_keys
from application.errors import (
    HistoryCorrupt,
    NotPermitted,
    ReferenceTaken,
    StoreUnavailable,
    TooMuchContention,
    VersionMismatch,
)
from application.idempotency import fingerprint, receipt_for, recorded_result
from application.locks import COMMAND_QUEUE_SECONDS, KeyedLocks
from application.principal import Principal
from application.queries import ContractQueries
from application.read_models import ReadModelStore
from application.receipts import ReferenceClaim, claim_id
from application.rendering import render
from application.views import View
from domain.chain import sealing
from domain.contract import Contract
from domain.errors import DomainError

#: How often a command is re-run after losing the race for the next version (to a command in
#: another process: within one process, commands on one contract take turns).
MAX_ATTEMPTS = 60


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
        with self._contract_locks.hold(command.contract_id) as turn:
            if turn.store_failed_while_waiting:
                # The store failed the command ahead of this one: answer now rather than queue
                # every waiter behind its own timeout.
                raise StoreUnavailable("the event store failed for the command before this one")
            # A repeat may have been carried out by another process while this one waited.
            replay = self._replay(principal, idempotency_key, print_, view)
            if replay is not None:
                return replay
            try:
                return self._run(
                    principal, command, expected_version, idempotency_key, print_, view
                )
            except StoreUnavailable:
                turn.store_failed()
                raise
            except DomainError:
                # The first of two racing repeats may have changed what the rules allow
                # (already consented, no longer open): answer the repeat as the first time.
                replay = self._replay(principal, idempotency_key, print_, view)
                if replay is not None:
                    return replay
                raise

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

    def _run(
        self,
        principal: Principal,
        command: ContractCommand,
        expected_version: int | None,
        key: str | None,
        print_: str,
        view: View | None,
    ) -> CommandResult:
        uuid = contract_uuid(command.contract_id)
        with self.personal_data.reading(uuid.hex), sealing(self.personal_data):
            return self._run_sealing(principal, command, expected_version, key, print_, view)

    def _run_sealing(
        self,
        principal: Principal,
        command: ContractCommand,
        expected_version: int | None,
        key: str | None,
        print_: str,
        view: View | None,
    ) -> CommandResult:
        actor = principal.actor()
        for attempt in range(MAX_ATTEMPTS):
            contract = self._visible(principal, command.contract_id, for_change=True)
            if expected_version is not None and contract.version != expected_version:
                raise VersionMismatch(expected_version, contract.version)
            with contract.taking_effect_on(command.effective_on):
                created_id = command.execute(contract, actor)
            # A correction of a personal text erases the text it replaces (rectification).
            rectified: list[str] = []
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
            result = CommandResult(
                contract.id.hex, contract.version, contract.head_digest, created_id
            )
            try:
                logged = self._save(contract, receipt_for(principal, key, print_, result))
            except IntegrityError:
                replay = self._replay(principal, key, print_, view)
                if replay is not None:
                    return replay
                if expected_version is not None:
                    actual = self._visible(principal, command.contract_id).version
                    raise VersionMismatch(expected_version, actual) from None
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))  # noqa: S311
                continue
            if rectified:
                self.personal_data.destroy(contract.id.hex, rectified)
                self.forget_cached(contract.id)
            elif self.aggregate_cache is not None:
                # As saved, handed over as it is: the next command starts from it (no copy).
                self.aggregate_cache.keep_live(contract)
            return self._viewed(replace(result, log_indexes=logged), contract, view)
        raise TooMuchContention(
            f"{command.fingerprint_name} lost the race for contract {command.contract_id} too often"
        )

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
        """Save atomically; the transparency log's leaf indexes of the contract events saved."""
        with self._store_errors():
            recordings = self.save(*(item for item in pending if item is not None))
            return self.log_indexes_of(recordings)

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


__all__ = ["CommandResult", "ContractService", "ContractStore", "Principal", "claim_id"]
