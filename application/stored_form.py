"""Stored records read back as the plain JSON data the hash chain covers.

The event store writes values the library's JSON transcoder does not know natively as
`{"_type_": name, "_data_": value}` (see `application.transcodings`). A verifier recomputes a
digest from the stored bytes, so it removes those wrappers; what is left is the canonical form
of `domain.chain.canonical`. The domain never sees the wrappers: they are a storage format.
"""

from __future__ import annotations

from typing import Any


def canonical_from_stored(value: Any) -> Any:
    """The plain JSON data of a stored record's JSON (transcoding wrappers removed)."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return canonical_from_stored(value["_data_"])
        return {k: canonical_from_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_from_stored(v) for v in value]
    return value


__all__ = ["canonical_from_stored"]
