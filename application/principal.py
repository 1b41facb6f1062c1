"""Who calls: the authenticated person, the organisation they act for, and their roles."""

from __future__ import annotations

from dataclasses import dataclass

from domain.values import Actor, Role


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who, for which organisation, in which roles."""

    subject: str
    name: str
    org: str
    roles: frozenset[str]

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: one person acting for one organisation."""
        return f"{self.org}\n{self.subject}"

    def actor(self, role: str | None = None) -> Actor:
        """The caller as the actor of an event, in `role` (by default the one they write in)."""
        return Actor(
            subject=self.subject, name=self.name, org=self.org, role=role or self._acting_role()
        )

    def _acting_role(self) -> str:
        return (
            Role.CONTRACT_MANAGER if Role.CONTRACT_MANAGER in self.roles else sorted(self.roles)[0]
        )

    def can_write(self) -> bool:
        return Role.CONTRACT_MANAGER in self.roles

    def can_audit(self) -> bool:
        return bool({Role.CONTRACT_MANAGER, Role.AUDITOR} & self.roles)
