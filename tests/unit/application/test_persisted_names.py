"""Names the stores persist under must not follow the code around: the library names an
application's tables (and reads its environment) after `Application.name`, which defaults to
the class name of every subclass."""

from __future__ import annotations

from application.contract_store import ContractStore
from application.queries import ContractQueries
from application.service import ContractService


def test_every_layer_of_the_service_keeps_the_stored_name() -> None:
    assert {cls.name for cls in (ContractStore, ContractQueries, ContractService)} == {"dialoog"}
