"""For `make bench` only (figure P1L): a `dialoog serve` started with this directory on
PYTHONPATH and DIALOOG_BENCH_WITHOUT_LOG=1 stores events without appending them to the
transparency log — the peer that shows what the log costs a command. Inert otherwise; never on
the path of a real deployment."""

import os
import sys
from pathlib import Path

if os.environ.get("DIALOOG_BENCH_WITHOUT_LOG") == "1":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from infrastructure import postgres

    recorder = postgres.GroupCommitApplicationRecorder

    def _without_log(self, curs, stored_events, **kwargs):  # type: ignore[no-untyped-def]
        # The stock insert, as before the log: no leaves, no tree nodes, no head row (the change
        # feed's entries are written as always: P1L weighs the log alone).
        ids = super(recorder, self)._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._append_feed_entries(curs, stored_events, ids)
        return ids

    recorder._fetch_ids_after_insert_events = _without_log  # type: ignore[method-assign]
