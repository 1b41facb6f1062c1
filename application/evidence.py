"""Evidence bundles: a contract's stored events with what proves them, for an auditor's file
(docs/EVIDENCE.md has the layout byte for byte).

A bundle is a zip of

* `events.jsonl` — one line per stored event: contractId, version, topic, and the stored bytes
  (`state`, base64), exactly as the event store holds them;
* `checkpoint.txt` — a checkpoint signed for the export (C2SP signed note);
* `log-key.txt` — the log's verifier key (Go note format);
* `manifest.json` — format, contract, checkpoint size, every leaf the log holds for the contract
  (version, leaf index, event digest, inclusion proof against the checkpoint) and consistency
  proofs from earlier checkpoints to this one;
* `verify.py` — the single-file verifier (`python verify.py bundle.zip`), and a README.

`import_bundle` restores a bundle into an empty store, byte for byte.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from application.checkpoints import Checkpointer, open_note, parse_checkpoint
from application.errors import InvalidQuery

BUNDLE_FORMAT = "dialoog-evidence-bundle/1"
PAGE = 500
#: Earlier checkpoints a bundle carries consistency proofs from (newest first).
CONSISTENCY_FROM = 200
README = """Evidence bundle of a dialoog contract
=====================================

Check it without the service, its database or its code (Python 3.11 and `cryptography`):

    python -m venv venv && venv/bin/pip install cryptography
    venv/bin/python verify.py THIS.zip [--checkpoint AN-OLDER-CHECKPOINT.txt]

Exit code 0 only when every event digest, the chain, every inclusion proof, the checkpoint's
signature and (given one) the consistency from your older checkpoint hold. Keep checkpoint.txt:
a later bundle or the server can prove that the log extends it.
"""


def verifier_source() -> bytes:
    return resources.files("application.offline").joinpath("verify.py").read_bytes()


def build_bundle(
    recorder: ApplicationRecorder,
    checkpoints: Checkpointer,
    contract_id: UUID,
    from_sizes: tuple[int, ...] = (),
) -> bytes:
    """The bundle of one contract, against a checkpoint signed now; with consistency proofs
    from every earlier checkpoint stored and from `from_sizes` (the sizes of checkpoints an
    auditor kept, which a rewritten store may no longer hold)."""
    signed = checkpoints.sign_now()
    checkpoint = parse_checkpoint(open_note(signed.note, checkpoints.vkey))
    size = checkpoint.tree_size
    log = checkpoints.log
    leaves = [leaf for leaf in log.store.log_leaves_of(contract_id.hex) if leaf.leaf_index < size]
    proofs = log.inclusions([leaf.leaf_index for leaf in leaves], size)
    logged_after = {
        leaf.version for leaf in log.store.log_leaves_of(contract_id.hex) if leaf.leaf_index >= size
    }
    lines = []
    last = 0
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=PAGE)
        for stored in page:
            last = stored.originator_version
            if last in logged_after:
                continue  # appended after the checkpoint: the next bundle proves it
            lines.append(
                json.dumps(
                    {
                        "contractId": contract_id.hex,
                        "version": last,
                        "topic": stored.topic,
                        "state": base64.b64encode(stored.state).decode(),
                    },
                    separators=(",", ":"),
                )
            )
        if len(page) < PAGE:
            break
    earlier = {c.tree_size for c in log.store.log_checkpoints(before=size, limit=CONSISTENCY_FROM)}
    earlier |= {n for n in from_sizes if 0 < n < size}
    consistency = [
        {"fromSize": n, "proof": [b64(p) for p in log.consistency(n, size)]}
        for n in sorted(earlier, reverse=True)
    ]
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "contractId": contract_id.hex,
        "exportedAt": datetime.now(UTC).isoformat(),
        "origin": checkpoint.origin,
        "treeSize": size,
        "rootHash": b64(checkpoint.root_hash),
        "eventCount": len(lines),
        "leaves": [
            {
                "version": leaf.version,
                "leafIndex": leaf.leaf_index,
                "eventDigest": leaf.event_digest,
                "inclusionProof": [b64(p) for p in proof],
            }
            for leaf, proof in zip(leaves, proofs, strict=True)
        ],
        "consistency": consistency,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        archive.writestr("events.jsonl", "".join(line + "\n" for line in lines))
        archive.writestr("checkpoint.txt", signed.note)
        archive.writestr("log-key.txt", checkpoints.vkey + "\n")
        archive.writestr("verify.py", verifier_source())
        archive.writestr("README.txt", README)
    return buffer.getvalue()


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def import_bundle(recorder: ApplicationRecorder, bundle: bytes) -> tuple[str, int]:
    """Store a bundle's events, byte for byte, in an empty store: (contract id, events)."""
    if recorder.max_notification_id():
        raise InvalidQuery("a bundle is imported into an empty store only")
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            lines = archive.read("events.jsonl").decode().splitlines()
    except (KeyError, ValueError, zipfile.BadZipFile) as error:
        raise InvalidQuery(f"not an evidence bundle: {error}") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise InvalidQuery(f"not a {BUNDLE_FORMAT} bundle")
    contract_id = UUID(hex=manifest["contractId"])
    events = []
    for line in lines:
        record = json.loads(line)
        events.append(
            StoredEvent(
                originator_id=contract_id,
                originator_version=int(record["version"]),
                topic=str(record["topic"]),
                state=base64.b64decode(record["state"]),
            )
        )
    recorder.insert_events(events)
    return contract_id.hex, len(events)
