"""Erasing personal data from the record without breaking the chain (AVG/GDPR art. 16 and 17,
Archiefwet retention).

Personal texts are sealed under keys (application/personal_data.py). Erasing destroys keys and
records a `PersonalDataErased` event naming only the keys; what they sealed reads `[gewist]`
from then on, everywhere, while the chain — which covers the sealed texts — keeps verifying.

* **A request** (`erase`): a privacy officer of the contract's commissioner, the organisation
  that holds the record, erases a person's own texts (their name as actor, by their `sub`) in
  every contract of that commissioner, or every personal text of one record (a version).
* **Retention** (`apply_retention`): the keys of contracts that ended more than the retention
  period ago are destroyed, as erasures on the ground "retention".
* **Rectification**: a correction of a personal text erases the text it replaces (and earlier
  corrections of it) in the same save (ContractService).

The event is stored first and the keys destroyed after it; if the process stops in between,
`finish_erasures` (run by `apply_retention`) destroys what an erasure event names and is still
there. Snapshots of the contract are deleted with the keys, and cached copies dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from application.errors import ContractNotFound, NotPermitted
from application.principal import Principal
from domain import errors as rules
from domain.contract import CLOSED, Contract
from domain.values import Actor, Role

if TYPE_CHECKING:
    from application.commands import CorrectRecord
    from application.service import ContractService

#: Who erases when the retention period has passed (in the commissioner's name).
RETENTION = Actor(
    subject="dialoog:retention", name="Bewaartermijn verstreken", org="", role=Role.PRIVACY_OFFICER
)
#: The fields a correction may replace that hold personal text (RecordCorrected.personal_texts).
PERSONAL_CORRECTIONS = ("summary", "conclusions")


@dataclass(frozen=True)
class ErasureDone:
    contract_id: str
    erasure_id: str
    version: int
    keys_destroyed: int


def erase(
    service: ContractService,
    principal: Principal,
    *,
    reason: str,
    legal_basis: str,
    subject: str | None = None,
    record: tuple[str, int] | None = None,
) -> list[ErasureDone]:
    """Erase a person's texts (`subject`) or one record's (`record`: contract id, version)."""
    if Role.PRIVACY_OFFICER not in principal.roles:
        raise NotPermitted("erasing personal data needs the privacy_officer role")
    if (subject is None) == (record is None):
        raise rules.InvalidValue("name either a subject or a record to erase", field="subject")
    actor = principal.actor(Role.PRIVACY_OFFICER)
    done: list[ErasureDone] = []
    if record is not None:
        contract_id, version = record
        contract = _commissioned(service, principal, contract_id)
        if not 1 <= version <= contract.version:
            raise rules.InvalidValue(
                f"contract {contract.reference} has no version {version}",
                field="recordRef.version",
            )
        keys = [k for k, _ in service.personal_data.keys.find(contract.id.hex, version=version)]
        done.append(
            _record(service, contract, actor, "request", legal_basis, reason, keys, version)
        )
        return done
    if subject is None:
        return done
    by_contract: dict[str, list[str]] = {}
    for key_id, scope in service.personal_data.keys.find(owner=subject):
        by_contract.setdefault(scope.contract_id, []).append(key_id)
    for contract_id, keys in sorted(by_contract.items()):
        try:
            contract = _commissioned(service, principal, contract_id)
        except (ContractNotFound, NotPermitted):
            continue  # another commissioner's record: theirs to erase
        done.append(_record(service, contract, actor, "request", legal_basis, reason, keys, None))
    if not done:
        raise rules.NothingToErase(
            "this organisation holds no personal data of that person in its contracts"
        )
    return done


def apply_retention(service: ContractService, *, years: int, today: date) -> list[ErasureDone]:
    """Destroy the personal-data keys of every contract that ended more than `years` ago."""
    done: list[ErasureDone] = []
    finish_erasures(service)
    for contract_id in service._contract_ids():
        contract = service._load(UUID(hex=contract_id))
        if contract.status not in CLOSED or contract.ended_on is None:
            continue
        if _years_after(contract.ended_on, years) > today:
            continue
        keys = [
            k
            for k, scope in service.personal_data.keys.find(contract_id)
            if scope.owner != RETENTION.subject  # its own name on earlier retention erasures
        ]
        if not keys:
            continue
        actor = replace(RETENTION, org=contract.commissioner)
        done.append(
            _record(
                service,
                contract,
                actor,
                "retention",
                f"Archiefwet 1995; bewaartermijn {years} jaar na het einde van het contract",
                f"the contract ended on {contract.ended_on.isoformat()}",
                keys,
                None,
            )
        )
    return done


def finish_erasures(service: ContractService) -> int:
    """Destroy keys that an erasure event names but that are still there (a process stopped
    between storing the erasure and destroying its keys); how many."""
    destroyed = 0
    for contract_id in {scope.contract_id for _, scope in service.personal_data.keys.find()}:
        contract = service._load(UUID(hex=contract_id))
        live = {k for k, _ in service.personal_data.keys.find(contract_id)}
        left = live & set(contract.erased_keys)
        if left:
            service.personal_data.destroy(contract_id, left)
            service.forget_cached(contract.id)
            destroyed += len(left)
    return destroyed


def rectified_keys(
    service: ContractService, contract: Contract, command: CorrectRecord
) -> list[str]:
    """The keys of the personal texts a correction replaces: the corrected record's own, and
    those of earlier corrections of the same field of it."""
    fields = [f for f in command.corrections if f in PERSONAL_CORRECTIONS]
    if not fields:
        return []
    target = int(command.corrects_version)
    keys = service.personal_data.keys
    found: list[str] = []
    for field in fields:
        found += [k for k, _ in keys.find(contract.id.hex, version=target, field=field)]
        for earlier in contract.corrections:
            if earlier.corrects_version == target and field in earlier.corrections:
                found += [
                    k
                    for k, _ in keys.find(
                        contract.id.hex,
                        version=earlier.recorded_in_version,
                        field=f"corrections.{field}",
                    )
                    if earlier.recorded_in_version != contract.version
                ]
    return sorted(set(found) - set(contract.erased_keys))


def _record(
    service: ContractService,
    contract: Contract,
    actor: Actor,
    grounds: str,
    legal_basis: str,
    reason: str,
    keys: list[str],
    record_version: int | None,
) -> ErasureDone:
    erasure_ids: list[str] = []

    def record(current: Contract) -> list[str]:
        erasure_ids[:] = []
        left = [k for k in keys if k not in current.erased_keys]
        erasure_ids.append(
            current.record_erasure(
                actor=actor,
                grounds=grounds,
                legal_basis=legal_basis,
                reason=reason,
                key_ids=left,
                record_version=record_version,
            )
        )
        return left

    stored, destroyed = service.record_erasure(contract.id, record)
    service.personal_data.destroy(contract.id.hex, destroyed)
    service.forget_cached(contract.id)
    return ErasureDone(contract.id.hex, erasure_ids[0], stored.version, len(destroyed))


def _commissioned(service: ContractService, principal: Principal, contract_id: str) -> Contract:
    contract = service._visible(principal, contract_id)
    if contract.commissioner != principal.org:
        raise NotPermitted(
            "personal data in a contract is erased by a privacy officer of its commissioner, "
            "the organisation that holds the record"
        )
    return contract


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


__all__ = ["ErasureDone", "apply_retention", "erase", "finish_erasures", "rectified_keys"]
