"""Personal data in the record, sealed under keys that can be destroyed (AVG/GDPR erasure,
Archiefwet retention, rectification).

The domain says which texts are personal (`personal_texts` of each event class, and every
actor's name); this module seals them when an event is recorded and opens them when it is read:

* A text is encrypted with AES-256-GCM under a key kept in the store's key table, apart from the
  events: an actor's name under a key per person (their `sub`) and contract, every other
  personal text under a key per record (contract, version) and field. The record holds the
  sealed form, `{"_type_": "sealed", "_data_": {"keyId", "nonce", "ciphertext"}}` (base64url,
  docs/EVENTS.md), and the chain covers exactly that.
* The seal is deterministic (the nonce is an HMAC of the text and its place under a key derived
  from the text's key), because a record is made twice — when the event is triggered, for its
  digest, and when it is stored — and both must be the same bytes. Equal texts at the same
  place under the same key seal equally; nothing else is revealed.
* The additional data is the text's place (contract, version, path): a sealed text moved
  elsewhere does not open.
* Destroying a key erases every text it sealed: they read `[gewist]` from then on, and the chain
  still verifies, since it never covered the texts themselves.

Keys are read once per contract per load (`reading`), so replaying a history costs one query
for its keys, not one per event.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from application.errors import HistoryCorrupt
from domain.chain import personal_places

#: What an erased text reads as, everywhere.
ERASED = "[gewist]"


#: Opens a sealed text given as its stored parts in ASCII bytes (key id, nonce and ciphertext
#: in base64url, contract id, version, place).
EncodedOpener = Callable[[bytes, bytes, bytes, bytes, int, bytes], str]


class KeyScope(NamedTuple):
    """What a key seals: a person's texts in a contract (`owner`, version 0, no field), or one
    field of one record (no owner)."""

    contract_id: str
    owner: str
    version: int
    field: str


class KeyRing(Protocol):
    """The store's table of personal-data keys (infrastructure/personal_keys.py)."""

    def key_for(self, scope: KeyScope) -> tuple[str, bytes]:
        """The key of a scope, made when there is none yet: (key id, 32 key bytes)."""
        ...

    def keys_of(self, contract_ids: Iterable[str]) -> list[tuple[str, KeyScope, bytes]]:
        """Every live key of these contracts: (key id, scope, key bytes)."""
        ...

    def key(self, key_id: str) -> bytes | None:
        """One key; None once destroyed (or never made)."""
        ...

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """The live keys among these ids (a destroyed one is missing)."""
        ...

    def find(
        self,
        contract_id: str | None = None,
        *,
        owner: str | None = None,
        version: int | None = None,
        field: str | None = None,
    ) -> list[tuple[str, KeyScope]]:
        """The live keys matching what is given, with their scopes."""
        ...

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Destroy keys (their bytes are overwritten, not only unlinked); how many were live."""
        ...

    def purge_copies(self, contract_id: str) -> None:
        """Delete what holds a contract's opened texts outside the events: its snapshots."""
        ...


class GuardedKeyRing:
    """A key ring whose every call runs inside `guard` (the store's mapping of its failures to
    the application's errors: an outage reading keys is an outage, like one reading events)."""

    def __init__(
        self, keys: KeyRing, guard: Callable[[], contextlib.AbstractContextManager[Any]]
    ) -> None:
        self._keys = keys
        self._guard = guard

    def key_for(self, scope: KeyScope) -> tuple[str, bytes]:
        with self._guard():
            return self._keys.key_for(scope)

    def keys_of(self, contract_ids: Iterable[str]) -> list[tuple[str, KeyScope, bytes]]:
        with self._guard():
            return self._keys.keys_of(contract_ids)

    def key(self, key_id: str) -> bytes | None:
        with self._guard():
            return self._keys.key(key_id)

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        with self._guard():
            return self._keys.keys_by_id(key_ids)

    def find(
        self,
        contract_id: str | None = None,
        *,
        owner: str | None = None,
        version: int | None = None,
        field: str | None = None,
    ) -> list[tuple[str, KeyScope]]:
        with self._guard():
            return self._keys.find(contract_id, owner=owner, version=version, field=field)

    def destroy(self, key_ids: Iterable[str]) -> int:
        with self._guard():
            return self._keys.destroy(key_ids)

    def purge_copies(self, contract_id: str) -> None:
        with self._guard():
            self._keys.purge_copies(contract_id)


class Sealed(NamedTuple):
    """A sealed text as read from a record, before it is opened."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class SealedAsDict(Transcoding):
    """Reads the sealed form of a personal text (written by `PersonalData.seal`)."""

    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> dict[str, str]:
        return _sealed_data(obj.key_id, obj.nonce, obj.ciphertext)

    def decode(self, data: Any) -> Sealed:
        if not (
            isinstance(data, dict)
            and data.keys() == {"keyId", "nonce", "ciphertext"}
            and all(isinstance(v, str) for v in data.values())
        ):
            raise ValueError("a sealed text that is not {keyId, nonce, ciphertext}")
        return Sealed(data["keyId"], _unb64(data["nonce"]), _unb64(data["ciphertext"]))


class _Keys:
    """A contract's live keys within a load or command: all of them read in one query when the
    first sealed text is opened (`loaded`), one at a time when a text is sealed before that (a
    command on a contract the cache kept opens nothing, so it does not read every key of a long
    history)."""

    def __init__(self) -> None:
        self.by_id: dict[str, bytes] = {}
        self.by_scope: dict[KeyScope, str] = {}
        self.loaded = False

    def add(self, key_id: str, scope: KeyScope, key: bytes) -> None:
        self.by_id[key_id] = key
        self.by_scope[scope] = key_id


_prefetched: ContextVar[dict[str, _Keys] | None] = ContextVar("personal_keys", default=None)
_NUMBER = re.compile(r"\d+")


class PersonalData:
    """Seals personal texts for the records of one store and opens them again."""

    def __init__(self, keys: KeyRing | None = None) -> None:
        self._keys = keys
        self._nonce_keys: dict[bytes, bytes] = {}

    def attach(self, keys: KeyRing) -> None:
        self._keys = keys

    @property
    def keys(self) -> KeyRing:
        if self._keys is None:
            raise RuntimeError("no key ring attached")
        return self._keys

    # -- reading ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, *contract_ids: str, prefetch: bool = False) -> Iterator[None]:
        """Within: the keys of these contracts are at hand — each contract's read in one query
        when its first sealed text is opened, or with `prefetch` all of them in one query now
        (a reader about to open texts of many contracts: the feed)."""
        known = _prefetched.get()
        wanted = [c for c in contract_ids if known is None or c not in known]
        if not wanted:
            yield
            return
        merged = dict(known or {})
        for contract_id in wanted:
            merged[contract_id] = _Keys()
        if prefetch:
            for key_id, scope, key in self.keys.keys_of(wanted):
                merged[scope.contract_id].add(key_id, scope, key)
            for contract_id in wanted:
                merged[contract_id].loaded = True
        token = _prefetched.set(merged)
        try:
            yield
        finally:
            _prefetched.reset(token)

    def _key(self, key_id: str) -> bytes | None:
        contract_id = key_id.split(".", 1)[0]
        known = _prefetched.get()
        if known is not None and contract_id in known:
            keys = known[contract_id]
            if not keys.loaded:
                for found_id, scope, key in self.keys.keys_of([contract_id]):
                    keys.add(found_id, scope, key)
                keys.loaded = True
            return keys.by_id.get(key_id)
        return self.keys.key(key_id)

    def open(self, sealed: Sealed, *, contract_id: str, version: int, place: str) -> str:
        """The text, or `[gewist]` when its key was destroyed. A seal that does not open under
        its key at its place is a damaged history."""
        if not sealed.key_id.startswith(contract_id + "."):
            raise HistoryCorrupt(
                f"version {version} of contract {contract_id} holds a text sealed for another "
                "contract; ask for its verification"
            )
        key = self._key(sealed.key_id)
        if key is None:
            return ERASED
        try:
            plain = AESGCM(key).decrypt(
                sealed.nonce, sealed.ciphertext, _aad(contract_id, version, place)
            )
        except (InvalidTag, ValueError):
            raise HistoryCorrupt(
                f"version {version} of contract {contract_id}: a personal text does not open "
                "under its key at its place; ask for its verification"
            ) from None
        return plain.decode()

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """The live keys among these ids, in one read (a destroyed one is missing)."""
        ids = set(key_ids)
        return self.keys.keys_by_id(ids) if ids else {}

    def opener(self, keys: Mapping[str, bytes]) -> EncodedOpener:
        """`open` for sealed texts given as their stored parts (nonce and ciphertext in
        base64url, everything ASCII bytes) under `keys` (`keys_by_id`: a key not there was
        destroyed): the feed's entries open their texts so, with one read of the keys a page
        needs and one cipher per key."""
        ciphers: dict[bytes, Any] = {}  # AESGCM, or None for a destroyed key
        a2b_base64 = binascii.a2b_base64  # `_unb64_bytes`, inlined: once or twice an event

        def open_encoded(
            key_id: bytes, nonce: bytes, ciphertext: bytes, contract_id: bytes, version: int,
            place: bytes,
        ) -> str:  # fmt: skip
            if key_id[len(contract_id) : len(contract_id) + 1] != b"." or not key_id.startswith(
                contract_id
            ):
                raise HistoryCorrupt(
                    f"version {version} of contract {contract_id.decode()} holds a text sealed "
                    "for another contract; ask for its verification"
                )
            cipher = ciphers.get(key_id, _UNSEEN)
            if cipher is _UNSEEN:
                key = keys.get(key_id.decode())
                cipher = ciphers[key_id] = None if key is None else AESGCM(key)
            if cipher is None:
                return ERASED
            try:
                plain: bytes = cipher.decrypt(
                    a2b_base64(nonce.translate(_FROM_URLSAFE) + b"=" * (-len(nonce) % 4)),
                    a2b_base64(ciphertext.translate(_FROM_URLSAFE) + b"=" * (-len(ciphertext) % 4)),
                    b"dialoog:%b:%d:%b" % (contract_id, version, place),  # `_aad`
                )
            except (InvalidTag, ValueError):
                raise HistoryCorrupt(
                    f"version {version} of contract {contract_id.decode()}: a personal text "
                    "does not open under its key at its place; ask for its verification"
                ) from None
            return plain.decode()

        return open_encoded

    def open_fields(
        self, fields: dict[str, Any], event_class: type[Any], contract_id: str, version: int
    ) -> None:
        """Open, in place, the sealed texts of a decoded event's fields (the actor's name and
        the event class's personal places). Sealed values elsewhere stay sealed, and the strict
        reading refuses them."""
        actor = fields.get("actor")
        if actor is not None and isinstance(getattr(actor, "name", None), Sealed):
            name = self.open(
                actor.name, contract_id=contract_id, version=version, place="metadata.actor.name"
            )
            fields["actor"] = dataclasses.replace(actor, name=name)
        for place in personal_places(event_class):
            fields.update(self._open_at(fields, place.split("."), "payload", contract_id, version))

    def _open_at(
        self, value: Any, parts: list[str], where: str, contract_id: str, version: int
    ) -> Any:
        if not parts:
            if isinstance(value, Sealed):
                return self.open(value, contract_id=contract_id, version=version, place=where)
            return value
        head, rest = parts[0], parts[1:]
        name, every = (head[:-2], True) if head.endswith("[]") else (head, False)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if not hasattr(value, name):
                return value
            inner = getattr(value, name)
            opened = self._open_item(inner, every, rest, f"{where}.{name}", contract_id, version)
            return dataclasses.replace(value, **{name: opened})
        if isinstance(value, dict) and name in value:
            copy = dict(value)
            copy[name] = self._open_item(
                value[name], every, rest, f"{where}.{name}", contract_id, version
            )
            return copy
        return value

    def _open_item(
        self, value: Any, every: bool, rest: list[str], where: str, contract_id: str, version: int
    ) -> Any:
        if not every:
            return self._open_at(value, rest, where, contract_id, version)
        if not isinstance(value, list | tuple):
            return value
        items = [
            self._open_at(item, rest, f"{where}.{i}", contract_id, version)
            for i, item in enumerate(value)
        ]
        return type(value)(items)

    def open_plain(self, document: Any, *, contract_id: str, version: int) -> Any:
        """Plain JSON data of a record (its payload or metadata as `read_record` gives them,
        sealed texts as `Sealed`) with every sealed text opened."""
        if isinstance(document, Sealed):
            raise ValueError("a sealed text outside a place")
        return _open_plain(self, document, contract_id, version, "")

    def open_stored(self, document: Any, *, contract_id: str, version: int) -> Any:
        """Plain JSON data of a record's stored parts (`read_record(..., plain=False)`: with
        their `{"_type_", "_data_"}` wrappers) with every sealed text opened, in one walk: what
        `canonical_from_stored` and `open_plain` give one after the other. ValueError for a
        sealed text that is not one."""
        return _open_stored(self, document, contract_id, version, "")

    # -- sealing -------------------------------------------------------------------------------

    def seal(
        self, text: str, *, contract_id: str, version: int, place: str, owner: str | None
    ) -> dict[str, Any]:
        """The stored form of a personal text (see the module's docstring)."""
        scope = (
            KeyScope(contract_id, owner, 0, "")
            if owner
            else KeyScope(contract_id, "", version, _field_of(place))
        )
        key_id, key = self._scoped_key(scope)
        aad = _aad(contract_id, version, place)
        nonce = hmac.new(self._nonce_key(key), aad + b"\0" + text.encode(), hashlib.sha256)
        nonce_bytes = nonce.digest()[:12]
        ciphertext = AESGCM(key).encrypt(nonce_bytes, text.encode(), aad)
        return {"_type_": "sealed", "_data_": _sealed_data(key_id, nonce_bytes, ciphertext)}

    def _scoped_key(self, scope: KeyScope) -> tuple[str, bytes]:
        known = _prefetched.get()
        keys = None if known is None else known.get(scope.contract_id)
        if keys is not None and scope in keys.by_scope:
            key_id = keys.by_scope[scope]
            return key_id, keys.by_id[key_id]
        key_id, key = self.keys.key_for(scope)
        if keys is not None:
            keys.add(key_id, scope, key)
        return key_id, key

    def _nonce_key(self, key: bytes) -> bytes:
        derived = self._nonce_keys.get(key)
        if derived is None:
            derived = hmac.new(key, b"dialoog personal-text nonce", hashlib.sha256).digest()
            if len(self._nonce_keys) > 4096:
                self._nonce_keys.clear()
            self._nonce_keys[key] = derived
        return derived

    # -- erasure -------------------------------------------------------------------------------

    def destroy(self, contract_id: str, key_ids: Iterable[str]) -> None:
        """Destroy keys and every copy of what they opened (snapshots) for a contract."""
        ids = list(key_ids)
        self.keys.destroy(ids)
        self.keys.purge_copies(contract_id)
        known = _prefetched.get()
        if known is not None and contract_id in known:
            keys = known[contract_id]
            for key_id in ids:
                keys.by_id.pop(key_id, None)
            keys.by_scope = {s: k for s, k in keys.by_scope.items() if k in keys.by_id}


def new_key_id(contract_id: str) -> str:
    return f"{contract_id}.{secrets.token_hex(16)}"


class MemoryKeyRing:
    """The key table of a store kept in memory (and of stores the library offers alone)."""

    def __init__(self, snapshots: Any = None) -> None:
        self._lock = threading.Lock()
        self._by_scope: dict[KeyScope, str] = {}
        self._keys: dict[str, tuple[KeyScope, bytes]] = {}
        self._snapshots = snapshots

    def key_for(self, scope: KeyScope) -> tuple[str, bytes]:
        with self._lock:
            key_id = self._by_scope.get(scope)
            if key_id is None:
                key_id = new_key_id(scope.contract_id)
                self._by_scope[scope] = key_id
                self._keys[key_id] = (scope, secrets.token_bytes(32))
            return key_id, self._keys[key_id][1]

    def keys_of(self, contract_ids: Iterable[str]) -> list[tuple[str, KeyScope, bytes]]:
        wanted = set(contract_ids)
        with self._lock:
            return [
                (k, scope, key)
                for k, (scope, key) in self._keys.items()
                if scope.contract_id in wanted
            ]

    def key(self, key_id: str) -> bytes | None:
        with self._lock:
            found = self._keys.get(key_id)
        return None if found is None else found[1]

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        with self._lock:
            return {k: self._keys[k][1] for k in set(key_ids) if k in self._keys}

    def find(
        self,
        contract_id: str | None = None,
        *,
        owner: str | None = None,
        version: int | None = None,
        field: str | None = None,
    ) -> list[tuple[str, KeyScope]]:
        with self._lock:
            return [
                (key_id, scope)
                for key_id, (scope, _) in self._keys.items()
                if _matches(scope, contract_id, owner, version, field)
            ]

    def destroy(self, key_ids: Iterable[str]) -> int:
        count = 0
        with self._lock:
            for key_id in key_ids:
                found = self._keys.pop(key_id, None)
                if found is not None:
                    self._by_scope.pop(found[0], None)
                    count += 1
        return count

    def purge_copies(self, contract_id: str) -> None:
        recorder = self._snapshots
        if recorder is None or not hasattr(recorder, "_stored_events_index"):
            return
        with recorder._database_lock:
            index = recorder._stored_events_index.pop(str(UUID(hex=contract_id)), {})
            for position in index.values():
                recorder._stored_events[position] = None


def _matches(
    scope: KeyScope,
    contract_id: str | None,
    owner: str | None,
    version: int | None,
    field: str | None,
) -> bool:
    return (
        (contract_id is None or scope.contract_id == contract_id)
        and (owner is None or scope.owner == owner)
        and (version is None or scope.version == version)
        and (field is None or scope.field == field)
    )


def _open_plain(personal: PersonalData, value: Any, contract_id: str, version: int, at: str) -> Any:
    if isinstance(value, Sealed):
        return personal.open(value, contract_id=contract_id, version=version, place=at)
    if isinstance(value, Mapping):
        return {
            k: _open_plain(personal, v, contract_id, version, f"{at}.{k}" if at else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _open_plain(personal, v, contract_id, version, f"{at}.{i}") for i, v in enumerate(value)
        ]
    return value


def _open_stored(
    personal: PersonalData, value: Any, contract_id: str, version: int, at: str
) -> Any:
    if type(value) is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "sealed":
                sealed = SealedAsDict().decode(value["_data_"])
                return personal.open(sealed, contract_id=contract_id, version=version, place=at)
            return _open_stored(personal, value["_data_"], contract_id, version, at)
        return {
            k: _open_stored(personal, v, contract_id, version, f"{at}.{k}" if at else k)
            if type(v) is dict or type(v) is list
            else v
            for k, v in value.items()
        }
    if type(value) is list:
        return [
            _open_stored(personal, v, contract_id, version, f"{at}.{i}")
            if type(v) is dict or type(v) is list
            else v
            for i, v in enumerate(value)
        ]
    return value


def _field_of(place: str) -> str:
    """The field a record's key is made for: the place up to its first list index
    (`payload.participants.0.name` → `participants`; `payload.corrections.summary` →
    `corrections.summary`)."""
    parts = place.split(".")[1:]
    kept: list[str] = []
    for part in parts:
        if _NUMBER.fullmatch(part):
            break
        kept.append(part)
    return ".".join(kept)


#: A cipher not looked up yet (`PersonalData.opener`).
_UNSEEN: Any = object()


def _aad(contract_id: str, version: int, place: str) -> bytes:
    return f"dialoog:{contract_id}:{version}:{place}".encode()


def _sealed_data(key_id: str, nonce: bytes, ciphertext: bytes) -> dict[str, str]:
    return {"keyId": key_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unb64_bytes(data: bytes) -> bytes:
    return binascii.a2b_base64(data.translate(_FROM_URLSAFE) + b"=" * (-len(data) % 4))


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


__all__ = [
    "ERASED",
    "KeyRing",
    "KeyScope",
    "MemoryKeyRing",
    "PersonalData",
    "Sealed",
    "SealedAsDict",
    "new_key_id",
]
