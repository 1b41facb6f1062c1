"""Stored records read back as the canonical data the hash chain covers (moved from
tests/unit/domain/test_chain.py when the wrappers left the domain)."""

from __future__ import annotations

from application.stored_form import canonical_from_stored


def test_the_stored_form_reads_back_without_transcoding_wrappers():
    stored = {
        "value": {"_type_": "decimal_str", "_data_": "1.10"},
        "period": {"start": {"_type_": "date_iso", "_data_": "2025-01-01"}, "end": "2025-03-31"},
        "tags": [{"_type_": "x", "_data_": "y"}],
    }
    assert canonical_from_stored(stored) == {
        "value": "1.10",
        "period": {"start": "2025-01-01", "end": "2025-03-31"},
        "tags": ["y"],
    }
