"""The transparency log: signed checkpoints and the log's key (public), inclusion and
consistency proofs (authenticated). Formats: docs/EVIDENCE.md."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from api.deps import ContractsDep, ServicesDep
from api.responses import COMMAND_ERRORS, READ_ERRORS, Out, _problem
from api.schemas import MAX_COUNT
from api.security import CurrentPrincipal
from application.checkpoints import key_id, verifier_key
from application.log_queries import ConsistencyProofData, InclusionProofData
from application.read_models import SummaryFilter
from application.transparency_log import StoredCheckpoint
from application.witnesses import Witness

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


class WitnessCreate(Out):
    verifier_key: str = Field(
        min_length=10,
        max_length=300,
        pattern=r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$",
        description="The witness's Ed25519 key in Go's note format: name+keyid+base64(0x01 ‖ key)",
    )


class WitnessOut(Out):
    key_id: str
    name: str
    org: str
    status: str
    verifier_key: str
    approved_by: str | None

    @classmethod
    def of(cls, witness: Witness) -> WitnessOut:
        return cls(
            key_id=witness.key_id,
            name=witness.name,
            org=witness.org,
            status=witness.status,
            verifier_key=witness.verifier_key,
            approved_by=witness.approved_by,
        )


class CosignatureCreate(Out):
    signature: str = Field(
        min_length=10,
        max_length=400,
        pattern=r"^\u2014 [^\s]+ [A-Za-z0-9+/=]+$",
        description="One note signature line over the checkpoint's body: `— <name> <base64>`",
    )


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
    note = services.witnesses.with_cosignatures(services.checkpoints.current()).note
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
    witnesses = services.witnesses
    items = [CheckpointOut.of(witnesses.with_cosignatures(c)) for c in found[:limit]]
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


WITNESS_ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in COMMAND_ERRORS.items() if k not in (412, 422)},
    404: _problem("No such witness or checkpoint"),
    409: _problem("The key is registered already, or the co-signature was refused"),
}


@router.post(
    "/witnesses",
    status_code=201,
    response_model=WitnessOut,
    summary="Register your organisation's witness key (an auditor)",
    description="The key stays `pending` until a contract manager of a commissioning "
    "organisation approves it; then your auditors may co-sign checkpoints with it.",
    responses=WITNESS_ERRORS,
)
def register_witness(
    body: WitnessCreate, principal: CurrentPrincipal, services: ServicesDep
) -> WitnessOut:
    return WitnessOut.of(services.witnesses.register(principal, body.verifier_key))


@router.post(
    "/witnesses/{keyId}/approval",
    response_model=WitnessOut,
    summary="Approve a witness key (a contract manager of a commissioning organisation)",
    responses=WITNESS_ERRORS,
)
def approve_witness(
    key_id: Annotated[
        str,
        Path(alias="keyId", pattern=r"^[0-9a-f]{8}$", max_length=8, description="Key id (hex)"),
    ],
    principal: CurrentPrincipal,
    services: ServicesDep,
    contracts: ContractsDep,
) -> WitnessOut:
    def commissions() -> bool:
        after: tuple[str, str] | None = None
        while True:
            rows = contracts.list_contracts(principal, SummaryFilter(after=after, limit=200))
            if any(row.commissioner == principal.org for row in rows):
                return True
            if len(rows) < 200:
                return False
            after = (rows[-1].reference, rows[-1].contract_id)

    return WitnessOut.of(services.witnesses.approve(principal, key_id, commissions))


@router.post(
    "/checkpoints/{treeSize}/cosignatures",
    status_code=201,
    response_model=CheckpointOut,
    summary="Co-sign a checkpoint your organisation's witness checked",
    description="Accepted when the signature holds under your approved witness key and the log "
    "at this size extends the last checkpoint your witness co-signed (checked here with a "
    "consistency proof). Answers the checkpoint with every co-signature.",
    responses=WITNESS_ERRORS,
)
def cosign(
    tree_size: Annotated[
        int, Path(alias="treeSize", ge=0, le=MAX_COUNT, description="The checkpoint's size")
    ],
    body: CosignatureCreate,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> CheckpointOut:
    return CheckpointOut.of(services.witnesses.cosign(principal, tree_size, body.signature))
