"""When facts take effect, and what each one stands on.

Every event takes effect on a date (`effective_on`) that may lie before or after the day it was
recorded. The contract *in force on* a date D is every event recorded so far that takes effect on
or before D, applied in recorded order. For that to be a contract that could have existed, a fact
may not take effect before a fact it depends on (a provider's allocation before its acceptance, a
measurement before its indicator's agreement, anything before the opening).

Each event names what it *reads* (has to exist as it is, for the event's rules to hold) and what
it *writes* (changes), as keys: `opening`, `activation`, `status`, `money`, `assignment`,
`vision`, `provider:<org>`, `stakeholder:<id>`, `goal:<id>`, `indicator:<id>`,
`indicator:<id>@<version>`, `grant:<id>`, `proposal:<id>`. The rule, checked before an event is
triggered:

* it may not take effect before the last event that wrote anything it reads or writes;
* if it writes something, it may not take effect before the latest-dated event that read it.

Why that is enough: take any date D and an event X in force on D. An event Y recorded before X
but left out (it takes effect after D, so after X) shares no key with X that either of them
writes — or X could not have been recorded with its earlier date. So X sees, for everything it
reads or writes, exactly the facts it saw when it was recorded, and every rule it was checked
against holds in the state in force on D, as in the current state.

The marks are kept in the contract's state as plain data (they go into snapshots):
key → [written_on, written_version, written_by, read_on, read_version, read_by] with dates in ISO
form ("" where there is none) and the event's class name as `*_by`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

Marks = dict[str, list[str | int]]

_EMPTY: list[str | int] = ["", 0, "", "", 0, ""]


@dataclass(frozen=True)
class Touches:
    """What an event reads and writes, by key (see the module's docstring)."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    def __add__(self, other: Touches) -> Touches:
        return Touches(self.reads + other.reads, self.writes + other.writes)


@dataclass(frozen=True)
class Dependency:
    """A fact a new event would take effect before."""

    what: str
    effective_on: date
    version: int | None
    event: str

    def describe(self) -> str:
        at = f" (version {self.version})" if self.version else ""
        return f"{self.what}{at}, in effect from {self.effective_on}"


def thing(key: str) -> str:
    """What a key stands for, in words."""
    kind, _, name = key.partition(":")
    if not name:
        return {"money": "the money and the term", "status": "the contract's status"}.get(
            kind, f"the contract's {kind}"
        )
    if kind == "indicator" and "@" in name:
        indicator, _, version = name.partition("@")
        return f"version {version} of indicator {indicator}"
    return f"{kind} {name}"


def conflict(marks: Marks, touches: Touches, effective_on: date) -> Dependency | None:
    """The latest-dated fact that an event taking effect on `effective_on` would come before."""
    found: Dependency | None = None
    written = set(touches.writes)
    for key in (*touches.reads, *touches.writes):
        entry = marks.get(key)
        if not entry:
            continue
        candidates = [(entry[0], entry[1], entry[2])]
        if key in written:
            candidates.append((entry[3], entry[4], entry[5]))
        for on, version, event in candidates:
            if not on:
                continue
            day = date.fromisoformat(str(on))
            if day > effective_on and (found is None or day > found.effective_on):
                if (on, version) != (entry[0], entry[1]):
                    what = f"{event}, which relies on {thing(key)}"
                else:
                    what = f"{event} of {thing(key)}" if ":" in key else str(event)
                found = Dependency(what, day, int(version) or None, str(event))
    return found


def record(marks: Marks, touches: Touches, effective_on: date, version: int, event: str) -> None:
    """Note that `event` (recorded as `version`) took effect on `effective_on`."""
    on = effective_on.isoformat()
    for key in touches.writes:
        entry = marks.setdefault(key, list(_EMPTY))
        if not entry[0] or str(entry[0]) <= on:
            entry[0:3] = [on, version, event]
    for key in touches.reads:
        if key in touches.writes:
            continue
        entry = marks.setdefault(key, list(_EMPTY))
        if not entry[3] or str(entry[3]) < on:
            entry[3:6] = [on, version, event]
