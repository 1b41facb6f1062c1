"""Witnesses: outside organisations (a rekenkamer, an accountant) that co-sign the log's
checkpoints they checked (docs/EVIDENCE.md, "Witnesses").

An auditor of the organisation registers an Ed25519 verifier key (Go note format); a contract
manager of a commissioning organisation approves it. The witness then co-signs a checkpoint:
an ordinary note signature line over the checkpoint's body. The server accepts it only from the
witness's own auditors, only if the signature holds, and only if the log at that size extends
the last checkpoint the witness co-signed (a consistency proof between the two signed
checkpoints, checked here). A checkpoint is served with its co-signatures appended, so anyone
holding a witness's key sees that the witness saw the same log.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from application.checkpoints import (
    SIGNATURE_PREFIX,
    Checkpointer,
    NoteError,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
)
from application.errors import ApplicationError, NotPermitted
from application.principal import Principal
from application.transparency_log import StoredCheckpoint
from domain import merkle
from domain.values import Role


class WitnessNotFound(ApplicationError):
    code = "witness-not-found"


class WitnessConflict(ApplicationError):
    """The key is registered already, or the witness is approved already."""

    code = "witness-conflict"


class CosignatureRefused(ApplicationError):
    """The co-signature does not hold, or the log does not extend what the witness signed."""

    code = "cosignature-refused"


@dataclass(frozen=True)
class Witness:
    key_id: str  # 8 hex
    name: str
    verifier_key: str
    org: str
    status: str  # "pending" | "approved"
    registered_at: str
    approved_by: str | None = None


@runtime_checkable
class WitnessStore(Protocol):
    def log_witness_put(self, witness: Witness) -> None: ...

    def log_witness(self, key_id: str) -> Witness | None: ...

    def log_cosignature_put(self, tree_size: int, key_id: str, line: str) -> None: ...

    def log_cosignatures(self, tree_size: int) -> list[tuple[str, str]]: ...

    def log_last_cosigned(self, key_id: str) -> int | None: ...


class Witnesses:
    def __init__(
        self,
        store: WitnessStore,
        checkpoints: Checkpointer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.checkpoints, self.clock = store, checkpoints, clock

    def register(self, principal: Principal, vkey: str) -> Witness:
        if Role.AUDITOR not in principal.roles:
            raise NotPermitted("registering a witness key needs the auditor role")
        try:
            name, kid, _ = parse_verifier_key(vkey)
        except NoteError as error:
            raise CosignatureRefused(f"not an Ed25519 verifier key: {error}") from None
        if self.store.log_witness(kid.hex()) is not None:
            raise WitnessConflict(f"a witness key with id {kid.hex()} is registered already")
        witness = Witness(kid.hex(), name, vkey, principal.org, "pending", self._now())
        self.store.log_witness_put(witness)
        return witness

    def approve(
        self, principal: Principal, key_id: str, commissions: Callable[[], bool]
    ) -> Witness:
        """`commissions()`: is the caller's organisation the commissioner of a contract?"""
        if not principal.can_write() or not commissions():
            raise NotPermitted(
                "approving a witness needs a contract manager of a commissioning organisation"
            )
        witness = self._witness(key_id)
        if witness.status == "approved":
            raise WitnessConflict(f"witness {key_id} is approved already")
        approved = replace(witness, status="approved", approved_by=principal.org)
        self.store.log_witness_put(approved)
        return approved

    def cosign(self, principal: Principal, tree_size: int, line: str) -> StoredCheckpoint:
        """Accept a witness's signature line on the checkpoint of `tree_size`."""
        witness = self._signer_of(line)
        if Role.AUDITOR not in principal.roles or principal.org != witness.org:
            raise NotPermitted("only the witness's own auditors co-sign for it")
        if witness.status != "approved":
            raise CosignatureRefused(f"witness {witness.key_id} is not approved yet")
        signed = self._checkpoint(tree_size)
        body = open_note(signed.note, self.checkpoints.vkey)
        try:
            open_note(f"{body}\n{line}\n", witness.verifier_key)
        except NoteError as error:
            raise CosignatureRefused(f"the co-signature does not hold: {error}") from None
        last = self.store.log_last_cosigned(witness.key_id)
        if last is not None and last > tree_size:
            raise CosignatureRefused(
                f"the witness co-signed size {last} already; a smaller size cannot follow"
            )
        if last is not None and last < tree_size:
            self._check_extends(self._checkpoint(last), signed)
        if last != tree_size:
            self.store.log_cosignature_put(tree_size, witness.key_id, line)
        return self.with_cosignatures(signed)

    def with_cosignatures(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
        lines = [line for _, line in self.store.log_cosignatures(checkpoint.tree_size)]
        if not lines:
            return checkpoint
        return replace(checkpoint, note=checkpoint.note + "".join(f"{x}\n" for x in lines))

    def _check_extends(self, earlier: StoredCheckpoint, later: StoredCheckpoint) -> None:
        old = parse_checkpoint(open_note(earlier.note, self.checkpoints.vkey))
        new = parse_checkpoint(open_note(later.note, self.checkpoints.vkey))
        proof = self.checkpoints.log.consistency(old.tree_size, new.tree_size)
        try:
            merkle.verify_consistency(
                old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
            )
        except merkle.ProofError as error:
            raise CosignatureRefused(
                f"the log at size {new.tree_size} does not extend size {old.tree_size}, which "
                f"the witness co-signed ({error})"
            ) from None

    def _checkpoint(self, tree_size: int) -> StoredCheckpoint:
        found = self.checkpoints.store.log_checkpoints(before=tree_size + 1, limit=1)
        if not found or found[0].tree_size != tree_size:
            raise WitnessNotFound(f"no checkpoint of tree size {tree_size} was signed")
        return found[0]

    def _signer_of(self, line: str) -> Witness:
        if not line.startswith(SIGNATURE_PREFIX) or "\n" in line:
            raise CosignatureRefused("a co-signature is one note signature line ('— name sig')")
        _, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CosignatureRefused("the co-signature is not base64") from None
        return self._witness(blob[:4].hex())

    def _witness(self, key_id: str) -> Witness:
        witness = self.store.log_witness(key_id)
        if witness is None:
            raise WitnessNotFound(f"no witness with key id {key_id}")
        return witness

    def _now(self) -> str:
        return self.clock().isoformat()
