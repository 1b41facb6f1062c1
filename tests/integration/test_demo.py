"""`dialoog demo` loads a contract a contract manager would recognise, on every backend."""

from __future__ import annotations

from api.demo import AUDITOR, PEOPLE, REFERENCE, Demo
from infrastructure.settings import Settings
from infrastructure.stores import contract_service


def test_the_demo_tells_a_whole_story(settings: Settings) -> None:
    service = contract_service(settings)
    try:
        contract_id = Demo(service).load()
        contract = service.get_contract(AUDITOR, contract_id)
        assert contract.reference == REFERENCE
        assert contract.status == "active"
        assert {p.org for p in contract.providers} == set(PEOPLE) - {contract.commissioner.org}
        assert [g.level for g in contract.goals] == ["vision", "effect", "result", "performance"]
        assert sorted(i.name for i in contract.indicators) == [
            "Terugval",
            "Tevredenheid",
            "Wachttijd",
        ]
        assert len(contract.measurements) == 12
        statuses = sorted(p.status for p in contract.proposals)
        assert statuses.count("rejected") == 1 and "open" not in statuses
        allocations = {a.org: str(a.amount) for a in contract.financial_framework.allocations}
        assert allocations == {"buurtteam-noord": "2950000.00", "welzijn-plus": "1550000.00"}
        assert "mede-eigenaar" in contract.assignment
        dashboard = service.indicator_dashboard(AUDITOR, contract_id).body
        assert {row.name: row.on_track for row in dashboard} == {
            "Terugval": True,
            "Tevredenheid": False,
            "Wachttijd": True,
        }
        assert service.verify(AUDITOR, contract_id).valid
        again = Demo(service)
        second_id = again.load()
        assert second_id != contract_id
        assert again.reference == f"{REFERENCE}-2"
        second = service.get_contract(AUDITOR, second_id)
        assert second.reference == f"{REFERENCE}-2"
        assert len(second.measurements) == 12
        # The first demo is untouched by the second.
        assert service.get_contract(AUDITOR, contract_id).version == contract.version
    finally:
        service.close()
