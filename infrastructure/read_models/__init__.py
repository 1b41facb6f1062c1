"""The read-model stores (`application.read_models.ReadModelStore`): in memory, SQLite and
PostgreSQL. The two databases share one table definition (`tables`), one row mapping (`rows`)
and one implementation of the protocol (`sql_store`); each adds only its connections, its
transactions and its spelling (`sqlite`, `postgres`). Both behave exactly like
`MemoryReadModels`.

Tables (every name starts with `dialoog_rm_`, so they can share a database with the events):

* `dialoog_rm_position`  — one row (id = 1): the last notification id folded into the views.
* `dialoog_rm_summaries` — one row per contract. `reference_folded` and `title_folded` hold the
  `str.casefold()` of reference and title, computed in Python on write, so the text filter is
  Python's own case-insensitive substring match on every backend.
* `dialoog_rm_parties`   — (contract_id, role, ordinal, org): the commissioner (role
  'commissioner') and the providers in the order given (role 'provider'); the visibility filter
  is one indexed lookup on (org, contract_id).
* `dialoog_rm_grants`    — (contract_id, ordinal, org, until): read access granted to outside
  organisations and not revoked; a contract is also listed for a grantee while `until` (NULL:
  open-ended) has not passed. A store upgraded from before this table lists a grant once the
  contract's next event is folded in, or at once after `dialoog projections rebuild`.
* `dialoog_rm_indicators` — the dashboard rows of each contract, in the order given (ordinal).

Ordering and cursors compare strings by code point, as Python does. Naive datetimes are refused.
psycopg is imported only when a PostgreSQL store is built.
"""

from infrastructure.read_models.memory import MemoryReadModels
from infrastructure.read_models.postgres import PostgresReadModels
from infrastructure.read_models.sqlite import SqliteReadModels

__all__ = ["MemoryReadModels", "PostgresReadModels", "SqliteReadModels"]
