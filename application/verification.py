"""Chain verification: recompute every digest from the stored records and check each link.

What is hashed is what is stored. A form-2 record's digest is SHA-256 over its stored bytes,
which hold the prior digest: the verifier hashes bytes and reads the header, it never decodes
the event. A form-1 record (written before form 2) is checked under its own rule — the digest of
its canonical document — and, because that document left type information out, also decoded
strictly, so a type tag changed behind the chain's back is found. Once a chain has a form-2
record, every later record must be form 2. A tampered history may no longer decode or replay,
and the verdict must still say where it broke.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import get_topic

from application.errors import HistoryCorrupt
from application.snapshots import is_outdated, opened, snapshot_head
from application.stored_form import NotARecord, Record, read_record
from application.views import VerificationData
from domain.chain import GENESIS_DIGEST, RECORD_FORM, RECORD_KEYS, digest_of
from domain.events import ContractOpened, ProviderAdmitted, ProviderDeclined, ProviderWithdrew

VERIFY_PAGE = 1000


def verify_chain(
    recorder: ApplicationRecorder,
    contract_id: UUID,
    digests: dict[int, str] | None = None,
    decode: Callable[[Any], object] | None = None,
) -> tuple[VerificationData, set[str]]:
    """Recompute every digest from the stored records and check each link of the chain;
    `decode` (the store's mapper) reads form-1 records strictly.

    Also returns the parties named in the records (the commissioner and the providers admitted
    and not withdrawn), read in the same pass, so the caller can decide who may see the verdict even
    when the history no longer replays."""
    expected_prior, checked, expected, last = GENESIS_DIGEST, 0, 1, 0
    chain: dict[int, str] = {}
    parties: set[str] = set()
    failure: tuple[int, str] | None = None
    newest_form = 1
    hex_id = contract_id.hex
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=VERIFY_PAGE)
        for stored in page:
            last = stored.originator_version
            if (failure is None and newest_form == 2) or expected == 1:
                # The hot path: a form-2 record that holds, checked from its bytes and header
                # alone (anything else takes the path below, which names what is wrong).
                digest = _holding_record(stored, hex_id, expected, expected_prior, parties)
                if digest is not None:
                    expected_prior = chain[expected] = digest
                    newest_form = 2
                    checked += 1
                    expected += 1
                    continue
            record = _read(stored)
            if record is not None and stored.topic in PARTY_TOPICS:
                party = str(record.payload.get("commissioner") or record.payload.get("org") or "")
                if stored.topic in LEAVING_TOPICS:
                    parties.discard(party)
                else:
                    parties.add(party)
            if failure is not None:
                continue  # the verdict stands; read on only for the parties
            outcome = _check_record(
                stored, record, contract_id, expected, expected_prior, newest_form, decode
            )
            if isinstance(outcome, str):
                failure = (expected, outcome)
            else:
                expected_prior = outcome[0]
                newest_form = max(newest_form, record.form if record else 1)
                chain[expected] = expected_prior
                checked += 1
                expected += 1
        if len(page) < VERIFY_PAGE:
            break
    # Read after the events: every event read was logged in its own transaction.
    unlogged = _first_unlogged(recorder, contract_id, chain)
    if unlogged is not None:
        failure = unlogged
        checked = unlogged[0] - 1
        expected_prior = chain.get(checked, GENESIS_DIGEST)
        chain = {v: d for v, d in chain.items() if v <= checked}
    if digests is not None:
        digests.update(chain)
    if failure is not None:
        verdict = VerificationData(
            valid=False,
            versions_checked=checked,
            head_digest=expected_prior if checked else None,
            first_invalid_version=failure[0],
            reason=failure[1],
        )
    else:
        verdict = VerificationData(
            valid=checked > 0,
            versions_checked=checked,
            head_digest=expected_prior if checked else None,
            first_invalid_version=None if checked else 1,
            reason=None if checked else "no events stored",
        )
    return verdict, parties - {""}


def _first_unlogged(
    recorder: Any, contract_id: UUID, chain: dict[int, str]
) -> tuple[int, str] | None:
    """The first version whose digest is not the one the transparency log took when it was
    recorded: its record was altered (or inserted) since. A form-2 digest is not stored beside
    the record, so this is what names the altered event itself, the head included.

    `chain` holds: every record links to the digest of the one before. So when the last
    digest is the one the log took, every digest is (the last record's bytes are the original
    ones, so is the prior digest they name, and so on back): one leaf read. Only otherwise are
    all leaves read, to name the first record that differs."""
    leaves_of = getattr(recorder, "log_leaves_of", None)
    if leaves_of is None or not chain:
        return None
    head = max(chain)
    if any(
        leaf.version == head and leaf.event_digest == chain[head]
        for leaf in leaves_of(contract_id.hex, head)
    ):
        return None
    logged = {leaf.version: leaf.event_digest for leaf in leaves_of(contract_id.hex)}
    for version in sorted(chain):
        if version not in logged:
            return version, "the record is not in the transparency log (inserted behind its back)"
        if logged[version] != chain[version]:
            return version, (
                "the stored record does not hash to the digest the transparency log took when it "
                "was recorded (altered after recording)"
            )
    return None


#: Events that name a member, matched exactly by the topic the library stores for their class.
LEAVING_TOPICS = frozenset({get_topic(ProviderWithdrew), get_topic(ProviderDeclined)})
PARTY_TOPICS = frozenset({get_topic(ContractOpened), get_topic(ProviderAdmitted), *LEAVING_TOPICS})


def check_snapshots(
    recorder: Any,
    contract_id: UUID,
    key: bytes,
    state_version: int = 1,
    digests: dict[int, str] | None = None,
) -> tuple[int, list[tuple[int, str]]]:
    """How many snapshots were checked, and those that cannot be used, with why: a seal that
    does not hold, or a head digest that is not the chain's digest at the snapshot's version
    (`digests`, version → digest, from `verify_chain`). A snapshot sealed intact under an older
    state version is outdated, not broken."""
    checked, broken, last = 0, [], 0
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=20)
        for row in page:
            last = row.originator_version
            checked += 1
            identity = (key, row.originator_id, row.originator_version, row.state)
            found = opened(*identity, state_version)
            if found is None:
                if not is_outdated(*identity, state_version):
                    broken.append((last, "fails its seal (altered, moved or another key)"))
                continue
            head, state = found
            if head is None:  # sealed before seals named the head: read it from the state
                head = snapshot_head(state)
            if digests is not None and head != digests.get(last):
                broken.append((last, "does not match the chain's digest at its version"))
        if len(page) < 20:
            return checked, broken


def _holding_record(
    stored: Any, hex_id: str, version: int, prior: str, parties: set[str]
) -> str | None:
    """The digest of a form-2 record stored where it belongs and linked to `prior` (noting the
    party it names, if any); None for anything else."""
    try:
        document = orjson.loads(stored.state)
    except orjson.JSONDecodeError:
        return None
    if not (
        type(document) is dict
        and document.keys() == RECORD_KEYS
        and document["form"] == RECORD_FORM
        and document["priorDigest"] == prior
        and stored.originator_version == version
        and type(document["version"]) is int
        and document["version"] == version
        and document["type"] == stored.topic
        and document["contractId"] == hex_id
    ):
        return None
    if stored.topic in PARTY_TOPICS:
        payload = document["payload"]
        party = str(payload.get("commissioner") or payload.get("org") or "")
        if stored.topic in LEAVING_TOPICS:
            parties.discard(party)
        else:
            parties.add(party)
    return hashlib.sha256(stored.state).hexdigest()


def _read(stored: Any) -> Record | None:
    try:
        return read_record(stored.state, plain=False)  # hashed, not decoded
    except NotARecord:
        return None


def _check_record(
    stored: Any,
    record: Record | None,
    contract_id: UUID,
    version: int,
    expected_prior: str,
    newest_form: int,
    decode: Callable[[Any], object] | None,
) -> tuple[str] | str:
    """The record's digest if it holds, else why not."""
    if stored.originator_version != version:
        return f"version {version} is missing (found {stored.originator_version} next)"
    if record is None:
        return "the stored record cannot be read as an event"
    if record.prior_digest != expected_prior:
        return "the prior digest does not match the digest of the version before"
    if record.form == 2:
        if record.header != (stored.topic, contract_id.hex, version):
            return "the record names another type, contract or version than where it is stored"
        return (record.digest,)
    if newest_form > 1:
        return "a record in the old form (1) follows one in the new form (2)"
    recomputed = digest_of(
        topic=stored.topic,
        contract_id=contract_id.hex,
        version=version,
        recorded_at=record.recorded_at,
        payload=record.payload,
        metadata=record.metadata,
        prior_digest=record.prior_digest,
    )
    if recomputed != record.digest:
        return "the stored content does not match its digest (altered after recording)"
    if decode is not None:
        try:
            decode(stored)
        except HistoryCorrupt:
            return (
                "the stored record's type information does not match its event class "
                "(altered after recording)"
            )
    return (record.digest,)
