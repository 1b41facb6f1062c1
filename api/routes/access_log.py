"""For auditors: the access log of personal data (who read or wrote which contract, when)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContractsDep, ServicesDep
from api.responses import READ_ERRORS, Out
from api.security import CurrentPrincipal
from application.access_log import MAX_PAGE, AccessEntry, auditor_query
from application.read_models import SummaryFilter

router = APIRouter(prefix="/access-log", tags=["audit"])

#: Contracts fetched per page of the list while gathering those an organisation commissions.
_LIST_PAGE = 200


class AccessEntryOut(Out):
    id: int
    at: datetime
    subject: str
    organisation: str
    roles: list[str]
    contract_id: str | None
    operation: str
    status: int
    trace_id: str

    @classmethod
    def of(cls, entry: AccessEntry) -> AccessEntryOut:
        return cls(
            id=entry.id,
            at=entry.at,
            subject=entry.subject,
            organisation=entry.organisation,
            roles=entry.roles.split(","),
            contract_id=entry.contract_id,
            operation=entry.operation,
            status=entry.status,
            trace_id=entry.trace_id,
        )


class AccessLogPage(Out):
    items: list[AccessEntryOut]
    next_cursor: int | None


@router.get(
    "",
    response_model=AccessLogPage,
    summary="Who read or wrote contracts: your organisation's people, and your contracts",
    description="For an auditor: entries made by the people of the auditor's organisation and "
    "entries about contracts it commissions, oldest first. Each names the subject (never a "
    "name), organisation, roles, contract, operation, time, status and trace id. Pass "
    "`nextCursor` as `after` for the next page; it is null on the last.",
    responses=READ_ERRORS,
)
def read_access_log(
    principal: CurrentPrincipal,
    services: ServicesDep,
    contracts: ContractsDep,
    after: Annotated[int, Query(ge=0, description="Entries after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")] = 100,
    # A string with an empty default rather than an optional one: the document then says plainly
    # that the id is a string of 32 hexadecimal characters (OWASP's no-numeric-ids rule).
    contract_id: Annotated[
        str,
        Query(
            alias="contractId",
            pattern=r"^([0-9a-f]{32})?$",
            max_length=32,
            description="Only this contract (32 hexadecimal characters)",
        ),
    ] = "",
) -> AccessLogPage:
    query = auditor_query(
        principal.org,
        principal.roles,
        _commissioned_by(principal, contracts),
        contract_id=contract_id or None,
        after=after,
        limit=limit,
    )
    entries = services.access_log.entries(query)
    next_cursor = entries[-1].id if len(entries) == limit else None
    return AccessLogPage(items=[AccessEntryOut.of(e) for e in entries], next_cursor=next_cursor)


def _commissioned_by(principal: CurrentPrincipal, contracts: ContractsDep) -> set[str]:
    commissioned: set[str] = set()
    after: tuple[str, str] | None = None
    while True:
        rows = contracts.list_contracts(principal, SummaryFilter(after=after, limit=_LIST_PAGE))
        commissioned.update(r.contract_id for r in rows if r.commissioner == principal.org)
        if len(rows) < _LIST_PAGE:
            return commissioned
        after = (rows[-1].reference, rows[-1].contract_id)
