"""The application's storage side: the event store and sealed snapshots, loading a contract the
caller may see, the read models and their catch-up, and store failures as StoreUnavailable.

`ContractQueries` (queries.py) and `ContractService` (service.py) build on this class.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    PersistenceError,
    StoredEvent,
)

from application.aggregate_cache import AggregateCache
from application.errors import (
    ContractNotFound,
    HistoryCorrupt,
    InvalidQuery,
    NotPermitted,
    StoreUnavailable,
)
from application.personal_data import (
    GuardedKeyRing,
    MemoryKeyRing,
    PersonalData,
    SealedAsDict,
)
from application.principal import Principal
from application.read_models import (
    ContractSummary,
    Folded,
    Projection,
    ReadModelStore,
    SummaryFilter,
    dashboard_of,
    rows_of,
    summary_of,
)
from application.snapshots import SealedSnapshotStore
from application.stored_form import RecordMapper, originator_hex, record_digest
from application.transcodings import register_domain_transcodings
from application.transparency_log import LogStore, MerkleLog
from application.visibility import PartyGate
from domain.contract import Contract
from domain.events import PersonalDataErased
from domain.values import AccessRole, local_date

log = logging.getLogger(__name__)


def replay(contract: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event runtime-protocol check (`isinstance` of a
    Protocol, ~20 µs an event, 13 % of a GET of a 35-event contract): every event read here was
    decoded by the mapper into one of the domain's event classes."""
    for event in events:
        contract = event.mutate(contract)
    return contract


class ContractStore(Application[UUID]):
    name = "dialoog"
    # Not the library's aggregate cache: it serialises fast-forwarding of a cached aggregate
    # behind one lock per contract, so during an outage concurrent requests would time out one
    # after another (n × the connect timeout). Ours (application.aggregate_cache) holds no
    # lock while it reads the store; snapshots bound every replay it cannot serve.
    env = {"IS_SNAPSHOTTING_ENABLED": "y"}
    #: Events a rebuild keeps in memory to replay the contracts too short for a snapshot
    #: from its one read of the log (~1 KB each); contracts past it are loaded at their heads.
    REBUILD_KEPT_EVENTS = 20_000

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        snapshot_interval: int = 50,
        read_models: ReadModelStore | None = None,
        snapshot_key: bytes | None = None,
        aggregate_cache_bytes: int = 0,
    ) -> None:
        #: contracts kept between requests (application.aggregate_cache); None when 0 bytes
        self.aggregate_cache = (
            AggregateCache(aggregate_cache_bytes) if aggregate_cache_bytes > 0 else None
        )
        # Without a configured key, snapshots are sealed with one this instance alone knows:
        # correct, but another process (or a restart) cannot use them.
        self._snapshot_key = snapshot_key or secrets.token_bytes(32)
        #: personal texts sealed under keys that can be destroyed (application/personal_data.py)
        self.personal_data = PersonalData()
        # Snapshots bound the replay behind every read, including reads at a past version.
        self.snapshotting_intervals = (  # type: ignore[misc]
            {Contract: snapshot_interval} if snapshot_interval > 0 else {}
        )
        with self._store_errors():
            super().__init__(env)
            key_ring = getattr(self.factory, "personal_key_ring", None)
            snapshots = self.snapshots.recorder if self.snapshots is not None else None
            self.personal_data.attach(
                GuardedKeyRing(
                    key_ring(snapshots) if key_ring is not None else MemoryKeyRing(snapshots),
                    self._store_errors,
                )
            )
        self._party_gate = PartyGate(self._head_version)
        self.projection: Projection | None = None
        if read_models is not None:
            self.projection = Projection(
                store=read_models,
                read_notifications=self._read_notifications,
                load=self._load_for_catch_up,
                rows_at_heads=self.rows_at_heads,
            )

    def close(self) -> None:
        if self.projection is not None:
            self.projection.store.close()
        super().close()

    def _take_snapshots(self, processing_event: Any) -> None:
        """A snapshot of a saved contract at every multiple of `snapshot_interval` events,
        taken from the contract in hand when the save left it at that version (what its events
        made of it) instead of loading it from the store again — a reload of the whole state
        every `snapshot_interval` events (21 ms a time for a contract of 300 publications).

        A save of fewer events than the interval that passes a multiple (commands carried out
        together) is snapshotted at its last version, in hand: snapshots then stand less than
        two intervals apart, and every read takes the nearest one at or before the version it
        wants. A longer save (an import) is snapshotted at each multiple, loaded."""
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        saved: dict[Any, list[int]] = {}
        for event in processing_event.events:
            saved.setdefault(event.originator_id, []).append(event.originator_version)
        for originator_id, versions in saved.items():
            aggregate = processing_event.aggregates.get(originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is None or not interval:
                continue
            due = [version for version in versions if version % interval == 0]
            if due and len(versions) < interval:
                due = [aggregate.version]
            for version in due:
                if aggregate.version == version:
                    self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])
                else:
                    self.take_snapshot(originator_id, version=version, projector_func=replay)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return SealedSnapshotStore(
            mapper=self.mapper,
            recorder=recorder,
            key=self._snapshot_key,
            state_version=Contract.STATE_VERSION,
            events=self.recorder,
        )

    def construct_mapper(self) -> Mapper[UUID]:
        """Contract events as their form-2 records, read strictly (application.stored_form)."""
        return RecordMapper(
            transcoder=self.construct_transcoder(), personal_data=self.personal_data
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)
        transcoder.register(SealedAsDict())

    def rebuild_read_models(self, progress: Callable[[int], None] | None = None) -> int:
        if self.projection is None:
            raise InvalidQuery("this service keeps no read models")
        with self._store_errors():
            return self.projection.rebuild(progress)

    def verify_read_models(self) -> list[str]:
        """Every difference between the read models as stored and as the events make them:
        a summary or dashboard row edited, added or deleted, or a position moved so that rows
        were never brought up to date. Catches up first, so a read model that is merely behind
        is not a difference. Empty when they agree."""
        projection = self.projection
        if projection is None:
            raise InvalidQuery("this service keeps no read models")
        store = projection.store
        with self._store_errors():
            projection.catch_up()
            stored = {row.contract_id: row for row in _every_summary(store)}
            contracts = self._contract_ids()
        differences: list[str] = []
        for contract_id in contracts:
            try:
                contract = self._load_for_projection(contract_id)
            except StoreUnavailable:
                raise
            except Exception:
                differences.append(f"{contract_id}: its history does not replay (verify it)")
                continue
            if contract is None:
                continue
            expected = summary_of(contract)
            row = stored.pop(contract_id, None)
            if row is None:
                differences.append(f"{contract_id}: no summary row")
            else:
                differences += [
                    f"{contract_id}: summary {name} is {got!r}, the events say {want!r}"
                    for name, got, want in _compare(row, expected)
                ]
            with self._store_errors():
                dashboard = store.indicators(contract_id)
            if dashboard != dashboard_of(contract):
                differences.append(
                    f"{contract_id}: the indicator dashboard differs from the events "
                    f"({len(dashboard)} rows stored, {len(dashboard_of(contract))} expected)"
                )
        differences += [f"{extra}: a summary row with no contract behind it" for extra in stored]
        return differences

    def notification_count(self) -> int:
        with self._store_errors():
            return self.recorder.max_notification_id() or 0

    # -- the transparency log (application/transparency_log.py) ------------------------------

    def merkle_log(self) -> MerkleLog:
        if not isinstance(self.recorder, LogStore):
            raise InvalidQuery("this event store keeps no transparency log")
        return MerkleLog(self.recorder)

    def log_indexes_of(self, recordings: Any) -> tuple[int, ...]:
        """The leaf indexes of the contract events among saved recordings."""
        events = [
            (
                r.notification.id,
                originator_hex(r.notification.originator_id),
                r.notification.originator_version,
            )
            for r in recordings
            if getattr(r.domain_event, "digest", None)
        ]
        if not events or not isinstance(self.recorder, LogStore):
            return ()
        return tuple(self.recorder.log_leaf_indexes(events))

    # -----------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StoreUnavailable unless the event store answers."""
        with self._store_errors():
            self.recorder.max_notification_id()

    def _visible(
        self,
        principal: Principal,
        contract_id: str,
        version: int | None = None,
        *,
        audit: bool = False,
        for_change: bool = False,
    ) -> Contract:
        """The contract (at a version), if the caller's organisation may see it (else it does not
        exist). Visible to its members — the commissioner, the active providers and the
        providers invited to it (the contract list applies the same rule); a provider that
        withdrew or declined no longer sees it — and to an outside organisation while an access
        grant of the commissioner holds (with `audit`: a grant for auditors).

        `for_change`: the caller (a command) changes the contract it gets."""
        uuid = contract_uuid(contract_id)
        if self._party_gate.surely_hidden(uuid, principal.org):  # costs what a missing id costs
            raise ContractNotFound(f"no contract {contract_id}")
        contract = self._load(uuid, version, for_change=for_change)
        if version is None:
            self._party_gate.remember(uuid, contract.version, _may_see(contract))
        if principal.org in contract.members:
            return contract
        # Who may see a past version is decided by the contract as it stands now.
        head = contract if version is None else self._load(uuid)
        self._check_sees(principal, head, contract_id, audit=audit)
        return contract

    @staticmethod
    def _check_sees(
        principal: Principal, head: Contract, contract_id: str, *, audit: bool = False
    ) -> None:
        """Raise unless the caller's organisation may see the contract as it stands (`head`)."""
        if principal.org in head.members:
            return
        role = head.access_of(principal.org, local_date(datetime.now(UTC)))
        if role is None:
            raise ContractNotFound(f"no contract {contract_id}")
        if audit and role != AccessRole.AUDITOR:
            raise NotPermitted(
                "this organisation's access grant lets it read the contract, not audit it"
            )

    def _load_for_change(self, contract_id: UUID) -> Contract:
        """The contract at its head for commands to change (see `_visible`)."""
        contract = self._load(contract_id, for_change=True)
        self._party_gate.remember(contract_id, contract.version, _may_see(contract))
        return contract

    def _head_version(self, contract_id: UUID) -> int | None:
        with self._store_errors():
            last = self.recorder.select_events(contract_id, desc=True, limit=1)
        return last[0].originator_version if last else None

    def _load(
        self, contract_id: UUID, version: int | None = None, *, for_change: bool = False
    ) -> Contract:
        with self.personal_data.reading(contract_id.hex):
            return self._load_reading(contract_id, version, for_change)

    def _load_reading(self, contract_id: UUID, version: int | None, for_change: bool) -> Contract:
        if version is None and self.aggregate_cache is not None:
            cached = self._load_cached(contract_id, self.aggregate_cache, for_change)
            if cached is not None:
                return cached
        try:
            with self._store_errors():
                contract: Any = self.repository.get(
                    contract_id, version=version, projector_func=replay
                )
        except AggregateNotFoundError:
            raise ContractNotFound(f"no contract {contract_id.hex}") from None
        except (OriginatorVersionError, OriginatorIDError) as error:
            raise HistoryCorrupt(
                f"the stored history of contract {contract_id.hex} does not replay ({error!r}); "
                "ask for its verification"
            ) from error
        if not isinstance(contract, Contract):
            raise ContractNotFound(f"no contract {contract_id.hex}")
        if version is None and self.aggregate_cache is not None:
            self.aggregate_cache.put(contract)
        return contract

    def _load_cached(
        self, contract_id: UUID, cache: AggregateCache, for_change: bool = False
    ) -> Contract | None:
        """The contract at the head of its stored history from the cache, brought forward by
        the events after the cached version if there are any; None when the cache cannot serve
        it (nothing kept, or the kept copy is not on the stored chain: a full load decides).
        `for_change`: for a command, which may take the contract its predecessor left (no
        copy) and keeps it once saved (ContractService)."""
        entry = cache.get(contract_id)
        if entry is None:
            cache.misses += 1
            return None
        with self._store_errors():
            head = self.recorder.select_events(contract_id, desc=True, limit=1)
        if not head or head[0].originator_version < entry.version:
            cache.discard(contract_id)
            return None
        if head[0].originator_version == entry.version:
            if record_digest(head[0].state) != entry.head_digest:
                cache.discard(contract_id)  # the head was rewritten behind our back
                return None
            kept = cache.take(entry) if for_change else cache.copy_of(entry)
            if kept is None:  # taken by another caller a moment ago: the full load decides
                cache.misses += 1
                return None
            cache.hits += 1
            return cast(Contract, kept)
        kept = cache.take(entry) if for_change else cache.copy_of(entry)
        if kept is None:
            cache.misses += 1
            return None
        contract = cast(Contract, kept)
        try:
            with self._store_errors():
                for event in self.events.get(contract_id, gt=entry.version):
                    if isinstance(event, PersonalDataErased):
                        # The kept copy holds what was erased: the full load reads it anew.
                        cache.discard(contract_id)
                        return None
                    cast(Any, event).mutate(contract)
        except StoreUnavailable:
            raise
        except Exception:  # a history that does not follow the kept copy: the full load decides
            cache.discard(contract_id)
            return None
        if contract.version < head[0].originator_version:
            return None  # not all events came back: the full load decides
        cache.caught_up += 1
        if not for_change:  # a command keeps what it saves
            cache.put(contract)
        return contract

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

    def _contract_ids(self) -> list[str]:
        """Every contract in the notification log, in the order it was opened."""
        ids: dict[str, None] = {}
        start = 1
        while batch := self._read_notifications(start, 1000):
            for _, contract_id, topic in batch:
                if topic.startswith("domain.events:"):
                    ids.setdefault(contract_id, None)
            start = batch[-1][0] + 1
        return list(ids)

    def _read_notifications(self, start: int, limit: int) -> list[tuple[int, str, str]]:
        notifications = self.recorder.select_notifications(start=start, limit=limit)
        return [(n.id, originator_hex(n.originator_id), n.topic) for n in notifications]

    def rows_at_heads(self, progress: Callable[[int], None] | None = None) -> Folded:
        """The read models' rows as the whole notification log makes them: the log read once
        for its contracts (and how many notifications each has), then every contract made
        once, at its head. A contract shorter than the snapshot interval has no snapshot: it is
        replayed from the events this read already holds (up to `REBUILD_KEPT_EVENTS` of them
        at a time; their keys read for many contracts in one query), with no read of its own.
        A longer one is loaded from its latest snapshot, sealed and held against the chain,
        and the events after it. `progress` counts each contract's notifications as it is
        made. A contract whose history does not replay is left out, as by a catch-up (its
        verification names the damage)."""
        interval = self.snapshotting_intervals.get(Contract, 0)
        counts: dict[str, int] = {}
        #: every event so far of the contracts that may still be replayed from this read
        short: dict[str, list[StoredEvent]] = {}
        kept = position = processed = 0
        while batch := self.recorder.select_notifications(start=position + 1, limit=1000):
            for notification in batch:
                if not notification.topic.startswith("domain.events:"):
                    continue
                contract_id = originator_hex(notification.originator_id)
                count = counts[contract_id] = counts.get(contract_id, 0) + 1
                events = short.get(contract_id)
                if count == 1 and kept < self.REBUILD_KEPT_EVENTS:
                    short[contract_id] = [notification]
                    kept += 1
                elif events is not None:
                    if count >= interval > 0 or kept >= self.REBUILD_KEPT_EVENTS:
                        del short[contract_id]  # loaded at its head instead
                        kept -= len(events)
                    else:
                        events.append(notification)
                        kept += 1
            position, processed = batch[-1].id, processed + len(batch)
        made = None if progress is None else lambda contract_id: progress(counts[contract_id])
        summaries, indicators = rows_of(
            [c for c in counts if c not in short], self._load_for_projection, made
        )
        replayed = list(short)
        for start in range(0, len(replayed), _KEYS_READ_TOGETHER):
            group = replayed[start : start + _KEYS_READ_TOGETHER]
            with self.personal_data.reading(*group, prefetch=True):
                more, more_indicators = rows_of(
                    group, lambda contract_id: self._replayed(short[contract_id]), made
                )
            summaries += more
            indicators.update(more_indicators)
        return Folded(position, processed, summaries, indicators)

    def _replayed(self, stored: list[StoredEvent]) -> Contract | None:
        """A contract made from all its stored events (within `personal_data.reading`)."""
        contract = replay(None, (self.mapper.to_domain_event(event) for event in stored))
        return contract if isinstance(contract, Contract) else None

    def _load_for_catch_up(self, contract_id: str) -> Contract | None:
        """A contract at its head for the read models' catch-up: the one the aggregate cache
        keeps, brought forward by the events after it, where it keeps one — so a contract
        written to batch after batch is folded forward, not loaded again for every batch —
        else loaded from its latest snapshot (and then kept)."""
        try:
            return self._load(UUID(hex=contract_id))
        except ContractNotFound:
            return None

    def _load_for_projection(self, contract_id: str) -> Contract | None:
        try:
            with self.personal_data.reading(contract_id):
                contract: Any = self.repository.get(UUID(hex=contract_id), projector_func=replay)
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


#: Contracts whose personal-data keys a rebuild reads in one query.
_KEYS_READ_TOGETHER = 500


def contract_uuid(contract_id: str) -> UUID:
    try:
        return UUID(hex=contract_id)
    except (ValueError, TypeError, AttributeError):
        raise ContractNotFound(f"no contract {contract_id}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _may_see(contract: Contract) -> set[str]:
    """Every organisation that may see the contract at this version, and then some: its members
    and every organisation holding an unrevoked grant (expired or not). The party gate only
    ever answers "hidden" outside this set, so a superset is safe."""
    grantees = {g.org for g in contract.access_grants.values() if g.revoked_on is None}
    return contract.members | grantees


def _every_summary(store: ReadModelStore) -> list[ContractSummary]:
    rows: list[ContractSummary] = []
    after: tuple[str, str] | None = None
    while True:
        page = store.summaries(SummaryFilter(after=after, limit=500))
        rows += page
        if len(page) < 500:
            return rows
        after = (page[-1].reference, page[-1].contract_id)


def _compare(row: ContractSummary, expected: ContractSummary) -> list[tuple[str, Any, Any]]:
    """The fields of a stored summary that differ from the one the events make (the grants
    too, which equality leaves out)."""
    return [
        (name, getattr(row, name), getattr(expected, name))
        for name in (
            "reference",
            "title",
            "status",
            "commissioner",
            "providers",
            "version",
            "head_digest",
            "grants",
        )
        if getattr(row, name) != getattr(expected, name)
    ]
