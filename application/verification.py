"""Chain verification: recompute every digest from the stored records and check each link.

What is hashed is what is stored: the digest covers the stored JSON form of each event, so the
verifier reads the stored records (bytes), not our classes — a tampered history may no longer
decode or replay, and the verdict must still say where it broke.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import get_topic

from application.snapshots import is_outdated, snapshot_head, unseal
from application.stored_form import canonical_from_stored
from application.views import VerificationData
from domain.chain import (
    GENESIS_DIGEST,
    UNHASHED_FIELDS,
    digest_of,
    split_fields,
)
from domain.events import ContractOpened, ProviderAdmitted, ProviderDeclined, ProviderWithdrew

VERIFY_PAGE = 1000


def verify_chain(
    recorder: ApplicationRecorder, contract_id: UUID, digests: dict[int, str] | None = None
) -> tuple[VerificationData, set[str]]:
    """Recompute every digest from the stored records and check each link of the chain.

    Also returns the parties named in the records (the commissioner and the providers admitted
    and not withdrawn), read in the same pass, so the caller can decide who may see the verdict even
    when the history no longer replays."""
    expected_prior, checked, expected, last = GENESIS_DIGEST, 0, 1, 0
    parties: set[str] = set()
    failure: tuple[int, str] | None = None
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=VERIFY_PAGE)
        for stored in page:
            last = stored.originator_version
            state = _read_state(stored)
            if state is not None and stored.topic in PARTY_TOPICS:
                party = str(state.get("commissioner") or state.get("org") or "")
                if stored.topic in LEAVING_TOPICS:
                    parties.discard(party)
                else:
                    parties.add(party)
            if failure is not None:
                continue  # the verdict stands; read on only for the parties
            outcome = _check_record(stored, state, contract_id, expected, expected_prior)
            if isinstance(outcome, str):
                failure = (expected, outcome)
            else:
                expected_prior = outcome[0]
                if digests is not None:
                    digests[expected] = expected_prior
                checked += 1
                expected += 1
        if len(page) < VERIFY_PAGE:
            break
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
            state = unseal(*identity, state_version)
            if state is None:
                if not is_outdated(*identity, state_version):
                    broken.append((last, "fails its seal (altered, moved or another key)"))
                continue
            if digests is not None and snapshot_head(state) != digests.get(last):
                broken.append((last, "does not match the chain's digest at its version"))
        if len(page) < 20:
            return checked, broken


def _read_state(stored: Any) -> dict[str, Any] | None:
    try:
        state = canonical_from_stored(json.loads(stored.state))
    except (ValueError, TypeError):
        return None
    return state if isinstance(state, dict) else None


def _check_record(
    stored: Any,
    state: dict[str, Any] | None,
    contract_id: UUID,
    version: int,
    expected_prior: str,
) -> tuple[str] | str:
    """The record's digest if it holds, else why not."""
    if stored.originator_version != version:
        return f"version {version} is missing (found {stored.originator_version} next)"
    if state is None:
        return "the stored record cannot be read as an event"
    try:
        recorded_at, digest, prior = state["timestamp"], state["digest"], state["prior_digest"]
    except KeyError:
        return "the stored record cannot be read as an event"
    if prior != expected_prior:
        return "the prior digest does not match the digest of the version before"
    fields = {k: v for k, v in state.items() if k not in UNHASHED_FIELDS}
    payload, metadata = split_fields(fields)
    recomputed = digest_of(
        topic=stored.topic,
        contract_id=contract_id.hex,
        version=version,
        recorded_at=recorded_at,
        payload=payload,
        metadata=metadata,
        prior_digest=prior,
    )
    if recomputed != digest:
        return "the stored content does not match its digest (altered after recording)"
    return (digest,)
