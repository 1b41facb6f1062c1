"""The EU threshold for social and other specific services is a setting: it moves every two
years, and each contract records the one in force when it was opened, on every backend."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, open_contract, service_for


def test_a_contract_records_the_threshold_of_the_setting(settings: Settings) -> None:
    lowered = settings.model_copy(update={"social_services_threshold": Decimal("50000.00")})
    service = service_for(lowered)
    try:
        contract_id = open_contract(service)
        framework = service.get_contract(COMMISSIONER, contract_id).financial_framework
    finally:
        service.close()

    assert framework.threshold == Decimal("50000.00")
    # The limit is the lower of 10% of the initial value and the threshold.
    assert framework.initial_value / 10 > Decimal("50000.00")
    assert framework.change_limit == Decimal("50000.00")


def test_a_changed_setting_leaves_contracts_opened_before_alone(settings: Settings) -> None:
    service = service_for(settings)
    try:
        before = open_contract(service, "WMO-2025-01")
        service.social_services_threshold = Decimal("50000.00")  # the setting moved
        after = open_contract(service, "WMO-2027-01")
        thresholds = [
            service.get_contract(COMMISSIONER, c).financial_framework.threshold
            for c in (before, after)
        ]
    finally:
        service.close()

    assert thresholds == [Decimal("750000.00"), Decimal("50000.00")]


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOOG_SOCIAL_SERVICES_THRESHOLD", "784000")

    assert Settings().social_services_threshold == Decimal("784000")
    monkeypatch.setenv("DIALOOG_SOCIAL_SERVICES_THRESHOLD", "-1")
    with pytest.raises(ValueError, match="social_services_threshold"):
        Settings()
