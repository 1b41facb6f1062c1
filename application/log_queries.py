"""Queries on the transparency log: inclusion and consistency proofs for a caller.

An inclusion proof names the leaf's contract, version and event digest, so it is given only
for a leaf of a contract the caller may see (its parties, or an organisation with an access
grant); any other leaf is answered exactly as a leaf that does not exist, naming no contract.
A consistency proof holds only hashes of the whole log: any authenticated caller may ask.
"""

from __future__ import annotations

import base64
from uuid import UUID

from application import history, verification
from application.checkpoints import Checkpointer, open_note, parse_checkpoint
from application.contract_store import ContractStore, contract_uuid
from application.dossier import dossier_html
from application.errors import ApplicationError, ContractNotFound, InvalidQuery
from application.evidence import build_bundle
from application.principal import Principal
from application.rendering import contract_data
from application.transparency_log import LeafRecord, MerkleLog
from application.views import Data, HistoryEntry, VerificationData
from domain import merkle


class LeafNotFound(ApplicationError):
    """No leaf of that index in a contract the caller may see (or none at all)."""

    code = "leaf-not-found"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class InclusionProofData(Data):
    leaf_index: int
    tree_size: int
    root_hash: str  # base64, as in the checkpoint
    leaf_hash: str  # base64: SHA-256(0x00 ‖ event digest)
    contract_id: str
    version: int
    event_digest: str  # hex, the event's chain digest
    proof: list[str]  # base64 hashes, nearest the leaf first (RFC 9162 §2.1.3.1)


class ConsistencyProofData(Data):
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]  # base64 hashes (RFC 9162 §2.1.4.1)


class LogQueries(ContractStore):
    def inclusion_proof(
        self, principal: Principal, leaf_index: int, tree_size: int
    ) -> InclusionProofData:
        log = self.merkle_log()
        if leaf_index >= tree_size:
            raise InvalidQuery("leafIndex must be below treeSize")
        size = log.size()
        if tree_size > size:
            raise InvalidQuery(f"treeSize must not exceed the log's size ({size})")
        leaf = self._visible_leaf(principal, log, leaf_index)
        proof = log.inclusion(leaf_index, tree_size)
        return InclusionProofData(
            leaf_index=leaf_index,
            tree_size=tree_size,
            root_hash=b64(log.root(tree_size)),
            leaf_hash=b64(merkle.event_leaf_hash(leaf.event_digest)),
            contract_id=leaf.contract_id,
            version=leaf.version,
            event_digest=leaf.event_digest,
            proof=[b64(p) for p in proof],
        )

    def consistency_proof(
        self, principal: Principal, from_size: int, to_size: int
    ) -> ConsistencyProofData:
        log = self.merkle_log()
        if from_size > to_size:
            raise InvalidQuery("from must not exceed to")
        size = log.size()
        if to_size > size:
            raise InvalidQuery(f"to must not exceed the log's size ({size})")
        return ConsistencyProofData(
            from_size=from_size,
            to_size=to_size,
            from_root=b64(log.root(from_size)),
            to_root=b64(log.root(to_size)),
            proof=[b64(p) for p in log.consistency(from_size, to_size)],
        )

    def _visible_leaf(self, principal: Principal, log: MerkleLog, leaf_index: int) -> LeafRecord:
        with self._store_errors():
            leaf = log.store.log_leaf(leaf_index)
        hidden = LeafNotFound(f"no leaf {leaf_index} of a contract you may see")
        if leaf is None:
            raise hidden
        try:
            self._visible(principal, leaf.contract_id)
        except ContractNotFound:
            raise hidden from None
        return leaf


class EvidenceQueries(LogQueries):
    def verify(
        self, principal: Principal, contract_id: str, *, snapshots: bool = False
    ) -> VerificationData:
        """The chain's verdict, visible to the contract's auditors (ContractQueries.verify)."""
        raise NotImplementedError

    def export_bundle(
        self,
        principal: Principal,
        contract_id: str,
        checkpoints: Checkpointer,
        from_sizes: tuple[int, ...] = (),
    ) -> bytes:
        """The contract's evidence bundle, for its auditors and contract managers. Visibility is
        decided as for verification (from the stored records when the history no longer
        replays), so a damaged contract can still be exported and shown to be damaged."""
        self.verify(principal, contract_id)
        with self._store_errors():
            return build_bundle(self.recorder, checkpoints, contract_uuid(contract_id), from_sizes)

    def dossier(self, principal: Principal, contract_id: str, checkpoints: Checkpointer) -> str:
        """The auditor's dossier (HTML) for the contract's auditors and contract managers."""
        self.verify(principal, contract_id)
        return self.dossier_of(contract_uuid(contract_id), checkpoints)

    def dossier_of(self, contract_id: UUID, checkpoints: Checkpointer) -> str:
        """The dossier of a contract, for whoever may read the store (the CLI)."""
        with self._store_errors():
            verdict, _ = verification.verify_chain(
                self.recorder, contract_id, decode=self.mapper.to_domain_event
            )
            data = contract_data(self._load(contract_id))
            entries: list[HistoryEntry] = []
            while True:
                page = history.history_page(self.events, contract_id, after=len(entries), limit=200)
                entries.extend(page.items)
                if page.next_cursor is None:
                    break
            signed = checkpoints.sign_now()
            checkpoint = parse_checkpoint(open_note(signed.note, checkpoints.vkey))
            inclusion = None
            for leaf in checkpoints.log.store.log_leaves_of(contract_id.hex):
                if leaf.version == data.version and leaf.leaf_index < checkpoint.tree_size:
                    proof = checkpoints.log.inclusion(leaf.leaf_index, checkpoint.tree_size)
                    try:
                        merkle.verify_inclusion(
                            leaf.leaf_index,
                            checkpoint.tree_size,
                            merkle.event_leaf_hash(data.head_digest),
                            proof,
                            checkpoint.root_hash,
                        )
                        inclusion = (leaf.leaf_index, True)
                    except merkle.ProofError:
                        inclusion = (leaf.leaf_index, False)
        return dossier_html(data, entries, verdict, signed, inclusion)
