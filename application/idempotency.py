"""Idempotency: a command carrying a key is carried out once per caller.

The first run leaves a `CommandReceipt` (saved atomically with the contract's events) holding a
fingerprint of the command and its result; a repeat with the same command gets that result back
and stores nothing; the same key for a different command is refused. The fingerprint is computed
from the command object (its persisted name and arguments, see `application.commands`).
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import rfc8785
from eventsourcing.application import AggregateNotFoundError, Repository

from application.commands import Command, CommandResult
from application.errors import IdempotencyKeyReused
from application.principal import Principal
from application.receipts import CommandReceipt, receipt_id
from domain.chain import canonical


def fingerprint(command: Command) -> str:
    """The digest a receipt keeps of its command; byte-identical across releases."""
    return _fingerprint(command.fingerprint_name, command.target, command.fingerprint_arguments())


def _fingerprint(name: str, contract_id: str, arguments: dict[str, Any]) -> str:
    document = {"command": name, "contract": contract_id, "arguments": canonical(arguments)}
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def recorded_result(
    repository: Repository[UUID], principal: Principal, key: str | None, print_: str
) -> CommandResult | None:
    """The result a previous run of this command left under this key, if any."""
    if key is None:
        return None
    try:
        receipt: Any = repository.get(receipt_id(principal.scope, key))
    except AggregateNotFoundError:
        return None
    if not isinstance(receipt, CommandReceipt):
        return None
    if receipt.fingerprint != print_:
        raise IdempotencyKeyReused(
            "this idempotency key was used for a different command; use a new key"
        )
    return CommandResult(**receipt.result, replayed=True)


def receipt_for(
    principal: Principal, key: str | None, print_: str, result: CommandResult
) -> CommandReceipt | None:
    """The receipt to save with the command's events (none without a key)."""
    if key is None:
        return None
    return CommandReceipt(
        subject=principal.scope, key=key, fingerprint=print_, result=result.as_dict()
    )
