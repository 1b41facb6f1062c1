#!/usr/bin/env python3
"""Check a dialoog evidence bundle without the service, its database or its code.

    python verify.py bundle.zip [--checkpoint OLD.txt]

Needs Python 3.11 and the `cryptography` package, nothing else. It checks every event's digest
(recomputed from the stored bytes), the hash chain, that every event the log recorded for the
contract is present, every inclusion proof against the bundle's signed checkpoint, the
checkpoint's Ed25519 signature (C2SP signed note) and, given an older checkpoint you kept,
that the log at the bundle's checkpoint extends it. One line per finding, then a verdict; the
exit code is 0 only when everything holds. The formats are in the bundle's manifest and in
dialoog's docs/EVIDENCE.md; this file is deliberately independent of dialoog's own code.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "dialoog-evidence-bundle/1"
GENESIS = "0" * 64
METADATA_FIELDS = ("actor", "effective_on", "session_id", "decision_ref", "reason")
UNHASHED_FIELDS = ("timestamp", "digest", "prior_digest")
SIGNATURE_PREFIX = "\u2014 "


# --------------------------------------------------------------------------- JSON (RFC 8785)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) for the values a stored event holds: no floats."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise ValueError("an integer outside the I-JSON range")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_jcs(k) + ":" + _jcs(value[k]) for k in keys) + "}"
    raise ValueError(f"{type(value).__name__} has no canonical JSON form here")


def plain(value: Any) -> Any:
    """The stored JSON without the event store's {"_type_", "_data_"} wrappers."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return plain(value["_data_"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


#: The keys of a form-2 record, exactly (docs/EVENTS.md).
RECORD_KEYS = {
    "form", "type", "contractId", "version", "recordedAt", "priorDigest", "payload", "metadata"
}  # fmt: skip


def read_event(contract_id: str, version: int, topic: str, raw: bytes) -> tuple[int, str, str]:
    """(form, digest, prior digest) of a stored event, from its bytes. Form 2: the digest is
    SHA-256 over exactly the stored bytes, which name their type, contract and version. Form 1:
    the digest stored in the record, which must equal the digest of its canonical document."""
    state = json.loads(raw)
    if not isinstance(state, dict):
        raise ValueError("not a JSON object")
    if "form" in state:
        if state.keys() != RECORD_KEYS or state["form"] != 2:
            raise ValueError("a record with keys its form does not have")
        if (state["type"], state["contractId"], state["version"]) != (topic, contract_id, version):
            raise ValueError("the record names another type, contract or version")
        return 2, hashlib.sha256(raw).hexdigest(), str(state["priorDigest"])
    state = plain(state)
    stated = state["digest"]
    if event_digest(contract_id, version, topic, state) != stated:
        raise AlteredError("content does not match its digest (altered)")
    return 1, stated, state["prior_digest"]


class AlteredError(ValueError):
    """A form-1 record whose content does not hash to the digest it states."""


def event_digest(contract_id: str, version: int, topic: str, state: dict[str, Any]) -> str:
    """Form 1: SHA-256 (hex) of the canonical document the chain digest covers."""
    fields = {k: v for k, v in state.items() if k not in UNHASHED_FIELDS}
    document = {
        "type": topic,
        "contractId": contract_id,
        "version": version,
        "recordedAt": state["timestamp"],
        "payload": {k: v for k, v in fields.items() if k not in METADATA_FIELDS},
        "metadata": {k: fields.get(k) for k in METADATA_FIELDS},
        "priorDigest": state["prior_digest"],
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


# --------------------------------------------------------------------------- Merkle (RFC 9162)


def leaf_hash(digest_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(digest_hex)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2; None when the proof cannot be one for this index and size."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def consistent(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


# --------------------------------------------------------------------------- signed notes


def open_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note signed by `vkey` (ValueError otherwise)."""
    name, _, rest = vkey.strip().partition("+")
    kid_hex, _, key_b64 = rest.partition("+")
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("the log key is not an Ed25519 note key")
    kid = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if kid.hex() != kid_hex:
        raise ValueError("the log key's id does not match its name and key")
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise ValueError("the checkpoint is not a signed note")
    text += "\n"
    signed = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise ValueError("a signature line does not start with an em dash")
        signer, _, blob_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if signer == name and blob[:4] == kid:
            try:
                Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], text.encode())
            except InvalidSignature:
                raise ValueError(f"the signature of {name} does not hold") from None
            signed = True
    if not signed:
        raise ValueError(f"the checkpoint carries no signature of {name}")
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise ValueError("the checkpoint body is not origin, size, root hash")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("the checkpoint's root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


# --------------------------------------------------------------------------- the bundle


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failures = 0

    def ok(self, line: str) -> None:
        self.lines.append(f"ok    {line}")

    def fail(self, line: str) -> None:
        self.failures += 1
        self.lines.append(f"FAIL  {line}")


def verify_bundle(bundle: bytes | str, old_checkpoint: str | None = None) -> Report:
    report = Report()
    try:
        with zipfile.ZipFile(bundle if isinstance(bundle, str) else _io(bundle)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            lines = archive.read("events.jsonl").decode().splitlines()
            note = archive.read("checkpoint.txt").decode()
            vkey = archive.read("log-key.txt").decode().strip()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        report.fail(f"bundle: cannot be read ({error})")
        return report
    if manifest.get("format") != FORMAT:
        report.fail(f"bundle: format {manifest.get('format')!r} is not {FORMAT}")
        return report
    contract_id = manifest["contractId"]

    try:
        origin, size, root = open_checkpoint(note, vkey)
        report.ok(f"checkpoint: signed by {vkey.split('+')[0]} (tree size {size})")
    except (ValueError, binascii.Error) as error:
        report.fail(f"checkpoint: {error}")
        return report
    if origin != vkey.split("+")[0]:
        report.fail(f"checkpoint: origin {origin!r} is not the key's name")

    digests, present = _check_events(report, contract_id, lines)
    _check_inclusion(report, manifest, digests, present, size, root)
    if old_checkpoint is not None:
        _check_consistency(report, manifest, old_checkpoint, vkey, size, root)
    return report


def _io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _check_events(
    report: Report, contract_id: str, lines: list[str]
) -> tuple[dict[int, str], set[int]]:
    """Each event's digest recomputed and the chain followed: the digests that hold, and the
    versions present at all."""
    digests: dict[int, str] = {}
    present: set[int] = set()
    prior, expected, broken, newest_form = GENESIS, 1, False, 1
    for line in lines:
        try:
            record = json.loads(line)
            version = int(record["version"])
            topic = str(record["topic"])
            raw = base64.b64decode(record["state"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            report.fail(f"event line {expected}: not a stored event")
            broken = True
            continue
        present.add(version)
        if version != expected:
            report.fail(f"event v{expected}: missing (next stored is v{version})")
            broken, expected = True, version
        try:
            form, digest, stated_prior = read_event(contract_id, version, topic, raw)
        except AlteredError as error:
            report.fail(f"event v{version}: {error}")
            broken, prior, expected = True, "", version + 1
            continue
        except (KeyError, ValueError, TypeError) as error:
            report.fail(f"event v{version}: cannot be read or recomputed ({error})")
            broken, prior, expected = True, "", version + 1
            continue
        if form < newest_form:
            report.fail(f"event v{version}: a record in the old form follows one in the new")
            broken = True
        elif stated_prior != prior:
            report.fail(f"event v{version}: prior digest does not match v{version - 1}")
            broken = True
        else:
            digests[version] = digest
        newest_form = max(newest_form, form)
        prior, expected = digest, version + 1
    if not broken:
        report.ok(f"events: {len(digests)} digests recomputed, the chain holds from v1")
    return digests, present


def _check_inclusion(
    report: Report,
    manifest: dict[str, Any],
    digests: dict[int, str],
    present: set[int],
    size: int,
    root: bytes,
) -> None:
    held = 0
    for entry in manifest.get("leaves", []):
        version, index = int(entry["version"]), int(entry["leafIndex"])
        digest = entry["eventDigest"]
        if version not in present:
            report.fail(
                f"event v{version}: recorded in the log (leaf {index}) but missing from the "
                "stored events (removed)"
            )
            continue
        if version not in digests:
            continue  # already named: it does not hold
        if digests[version] != digest:
            report.fail(f"event v{version}: not the event the log recorded at leaf {index}")
            continue
        proof = [base64.b64decode(p) for p in entry["inclusionProof"]]
        if inclusion_root(index, size, leaf_hash(digest), proof) != root:
            report.fail(f"event v{version} (leaf {index}): inclusion proof fails")
            continue
        held += 1
    logged = {int(e["version"]) for e in manifest.get("leaves", [])}
    for version in sorted(set(digests) - logged):
        report.fail(f"event v{version}: not in the log (added outside it)")
    if held and held == len(digests):
        report.ok(f"log: all {held} events included in the checkpoint of size {size}")


def _check_consistency(
    report: Report, manifest: dict[str, Any], old_note: str, vkey: str, size: int, root: bytes
) -> None:
    try:
        _, old_size, old_root = open_checkpoint(old_note, vkey)
    except (ValueError, binascii.Error) as error:
        report.fail(f"your checkpoint: {error}")
        return
    if old_size > size:
        report.fail(
            f"your checkpoint (size {old_size}) is larger than the bundle's ({size}): "
            "the log was truncated, or the bundle is older than your checkpoint"
        )
        return
    proofs = {int(c["fromSize"]): c for c in manifest.get("consistency", [])}
    entry = proofs.get(old_size)
    if old_size == size:
        ok = old_root == root
    elif entry is None:
        report.fail(f"your checkpoint (size {old_size}): the bundle has no proof from it")
        return
    else:
        proof = [base64.b64decode(p) for p in entry["proof"]]
        ok = consistent(old_size, size, old_root, root, proof)
    if ok:
        report.ok(f"your checkpoint (size {old_size}): the log at size {size} extends it")
    else:
        report.fail(
            f"your checkpoint (size {old_size}): the log at size {size} does not extend it "
            "(history was rewritten, removed or truncated since)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--checkpoint", help="an older checkpoint of this log you kept")
    args = parser.parse_args(argv)
    old = None
    if args.checkpoint:
        with open(args.checkpoint, encoding="utf-8") as file:
            old = file.read()
    report = verify_bundle(args.bundle, old)
    for line in report.lines:
        print(line)
    if report.failures:
        print(f"VERDICT: FAILED ({report.failures} findings)")
        return 1
    print("VERDICT: VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
