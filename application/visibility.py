"""Who may see a contract, decided from a cheap read before any work that grows with it.

Loading a contract (a snapshot and the events after it) costs more for a big contract than a
lookup of a missing id costs, so a caller probing ids could tell another organisation's
contract from a missing one by the time it takes, and make the server do that work for nothing
(issue 11). The gate remembers, per contract, the parties at the version it last loaded. When
it is asked about a caller whose organisation was not a party then, it reads only the stored
head version (one indexed row, the same lookup a missing id costs): unchanged since → not
visible, without loading anything. Anything else (never loaded here, changed since, or a party)
takes the full path, which checks again on the loaded contract; so the gate only ever answers
"not visible" for a contract whose parties it knows at its current version.

Bounded: at most `capacity` contracts are remembered (least recently used go first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from uuid import UUID

#: Reads the stored head version of a contract (None: no such contract).
HeadVersion = Callable[[UUID], int | None]


class PartyGate:
    def __init__(self, head_version: HeadVersion, capacity: int = 10_000) -> None:
        self._head_version = head_version
        self._capacity = capacity
        self._known: OrderedDict[UUID, tuple[int, frozenset[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def surely_hidden(self, contract_id: UUID, org: str) -> bool:
        """True only if `org` is known not to be a party of the contract as stored now."""
        with self._lock:
            known = self._known.get(contract_id)
            if known is not None:
                self._known.move_to_end(contract_id)
        if known is None or org in known[1]:
            return False
        return self._head_version(contract_id) == known[0]

    def remember(self, contract_id: UUID, version: int, parties: Collection[str]) -> None:
        with self._lock:
            self._known[contract_id] = (version, frozenset(parties))
            self._known.move_to_end(contract_id)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)
