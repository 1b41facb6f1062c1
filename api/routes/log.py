"""The transparency log: signed checkpoints and the log's key (public), inclusion and
consistency proofs (authenticated). Formats: docs/EVIDENCE.md."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ContractsDep, ServicesDep
from api.responses import READ_ERRORS, Out, _problem
from api.schemas import MAX_COUNT
from api.security import CurrentPrincipal
from application.checkpoints import key_id, verifier_key
from application.log_queries import ConsistencyProofData, InclusionProofData
from application.transparency_log import StoredCheckpoint

router = APIRouter(prefix="/log", tags=["transparency log"])

PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    409: _problem("The stored log no longer extends the last checkpoint signed: tampering"),
    503: _problem("The event store is unavailable"),
}
CHECKPOINT_MEDIA_TYPE = "text/plain; charset=utf-8"


class CheckpointOut(Out):
    tree_size: int
    root_hash: str
    signed_at: datetime
    note: str

    @classmethod
    def of(cls, stored: StoredCheckpoint) -> CheckpointOut:
        return cls(
            tree_size=stored.tree_size,
            root_hash=base64.b64encode(stored.root_hash).decode(),
            signed_at=datetime.fromisoformat(stored.signed_at),
            note=stored.note,
        )


class CheckpointPage(Out):
    items: list[CheckpointOut]
    next_cursor: int | None


class LogKeyOut(Out):
    algorithm: str
    key_name: str
    key_id: str
    public_key: str
    verifier_key: str


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint of the log (C2SP tlog-checkpoint signed note)",
    description="Public. Keep it: a later consistency proof from it shows that nothing it "
    "covers was rewritten, truncated or removed. A new checkpoint is signed when the log grew "
    "and the latest is older than the configured interval.",
    response_class=Response,
    responses={
        200: {"description": "The signed note", "content": {"text/plain": {"schema": {}}}},
        **PUBLIC_ERRORS,
    },
)
def checkpoint(services: ServicesDep) -> Response:
    note = services.checkpoints.current().note
    return Response(note, media_type=CHECKPOINT_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@router.get(
    "/checkpoints",
    response_model=CheckpointPage,
    summary="Every checkpoint signed, newest first, a page at a time",
    description="Public. Pass `nextCursor` as `before` for the next page; it is null on the last.",
    responses={400: _problem("Invalid query parameters"), **PUBLIC_ERRORS},
)
def checkpoints(
    services: ServicesDep,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_COUNT, description="Checkpoints of smaller tree sizes")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
) -> CheckpointPage:
    found = services.checkpoints.store.log_checkpoints(before=before, limit=limit + 1)
    items = [CheckpointOut.of(c) for c in found[:limit]]
    more = len(found) > limit
    return CheckpointPage(items=items, next_cursor=items[-1].tree_size if more else None)


@router.get(
    "/key",
    response_model=LogKeyOut,
    summary="The log's public key: algorithm, key name, key id and verifier key",
    description="Public. `verifierKey` is the key in Go's note format "
    "(`name+keyid+base64(0x01 ‖ key)`).",
    responses=PUBLIC_ERRORS,
)
def key(services: ServicesDep) -> LogKeyOut:
    signer = services.checkpoints.signer
    return LogKeyOut(
        algorithm="Ed25519",
        key_name=signer.name,
        key_id=key_id(signer.name, signer.public_key).hex(),
        public_key=base64.b64encode(signer.public_key).decode(),
        verifier_key=verifier_key(signer.name, signer.public_key),
    )


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProofData,
    summary="Prove that an event is in the log at a tree size",
    description="Only for a leaf of a contract your organisation may see; any other leaf is "
    "answered as one that does not exist (404).",
    responses=READ_ERRORS,
)
def inclusion_proof(
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    leaf_index: Annotated[
        int, Query(alias="leafIndex", ge=0, le=MAX_COUNT, description="The event's leaf index")
    ],
    tree_size: Annotated[
        int, Query(alias="treeSize", ge=1, le=MAX_COUNT, description="The tree size to prove at")
    ],
) -> InclusionProofData:
    return contracts.inclusion_proof(principal, leaf_index, tree_size)


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProofData,
    summary="Prove that the log at one size is a prefix of the log at a later size",
    responses=READ_ERRORS,
)
def consistency_proof(
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    from_size: Annotated[
        int, Query(alias="from", ge=0, le=MAX_COUNT, description="The earlier tree size")
    ],
    to_size: Annotated[
        int, Query(alias="to", ge=0, le=MAX_COUNT, description="The later tree size")
    ],
) -> ConsistencyProofData:
    return contracts.consistency_proof(principal, from_size, to_size)
