"""Idempotency fingerprints are stored in receipts: a key issued before a release must still
match its repeat after it. Each example pins the hex value the service produced before commands
became data (computed then with `_fingerprint(name, contract_id, arguments)` from the same
values), now computed from the command objects."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    Command,
    CompleteContract,
    ConsultResidents,
    ContractCommand,
    CorrectRecord,
    DeclineInvitation,
    DiscloseContract,
    GiveConsent,
    GrantAccess,
    HoldSession,
    IssuePublication,
    OpenContract,
    RecordEvaluation,
    RecordMeasurement,
    RecordMeasurementBatch,
    RegisterStakeholder,
    RejectProposal,
    ResumeContract,
    RevokeAccess,
    SubmitProposal,
    SuspendContract,
    TerminateContract,
    WithdrawDisclosure,
    WithdrawProposal,
    WithdrawProvider,
)
from application.idempotency import fingerprint
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.indicators import MeasurementReport
from domain.proposals import ScopeRefinement
from domain.values import Participant, Period

C = "0123456789abcdef0123456789abcdef"
P = Period(date(2025, 1, 1), date(2028, 12, 31))

CASES: dict[str, Command] = {
    "open_contract": OpenContract(
        reference="WMO-2025-01",
        title="Wijkteams",
        assignment="Help residents",
        procedure="dialogue",
        term=P,
        ceiling=Decimal("1000000.00"),
        budget_period=P,
    ),
    "admit_provider": AdmitProvider(C, org="zorg-a", name="Zorg A", rationale="fit"),
    "withdraw_provider": WithdrawProvider(C, org="zorg-a", reason="moved"),
    "register_stakeholder": RegisterStakeholder(C, name="Wijkraad", kind="residents"),
    "hold_session": HoldSession(
        C,
        held_on=date(2025, 2, 3),
        kind="dialogue",
        participants=(
            Participant("Ann", "gemeente-utrecht", "cm"),
            Participant("Bob", "zorg-a", "cm"),
        ),
        minutes_ref="MIN-1",
        summary="first",
    ),
    "submit_proposal": SubmitProposal(
        C,
        session_id="s1",
        change=ScopeRefinement("Help residents, also in the evening"),
        rationale="why",
    ),
    "submit_proposal goal": SubmitProposal(
        C,
        session_id=None,
        change=GoalChange(ChangeAction.ADD, GoalLevel.EFFECT, None, None, "Fewer falls", None),
        rationale="why",
    ),
    "give_consent": GiveConsent(C, proposal_id="p1"),
    "reject_proposal": RejectProposal(C, proposal_id="p1", reason="no"),
    "withdraw_proposal": WithdrawProposal(C, proposal_id="p1", reason="changed mind"),
    "record_measurement": RecordMeasurement(
        C,
        indicator_id="i1",
        period=Period(date(2025, 1, 1), date(2025, 3, 31)),
        value=Decimal("6.5"),
        source="CBS",
    ),
    "issue_publication": IssuePublication(
        C, audience="residents", channel="website", summary="news"
    ),
    "consult_residents": ConsultResidents(
        C, held_on=date(2025, 3, 1), method="survey", summary="ok", participants_count=120
    ),
    "activate": ActivateContract(C),
    "suspend": SuspendContract(C, reason="audit", decision_ref="B-12"),
    "resume": ResumeContract(C, reason="cleared"),
    "terminate": TerminateContract(C, reason="breach", decision_ref="B-13"),
    "complete": CompleteContract(C, reason="term ended"),
    "record_evaluation": RecordEvaluation(
        C, held_on=date(2025, 6, 1), summary="went well", conclusions="go on"
    ),
    "correct": CorrectRecord(
        C, corrects_version=3, corrections={"summary": "fixed"}, reason="typo"
    ),
    # Commands added since (pinned from their first release on):
    "accept_invitation": AcceptInvitation(C, org="zorg-a"),
    "decline_invitation": DeclineInvitation(C, org="zorg-a", reason="no capacity"),
    "grant_access": GrantAccess(
        C, org="rekenkamer-utrecht", role="auditor", reason="onderzoek", until=date(2027, 1, 1)
    ),
    "revoke_access": RevokeAccess(C, grant_id="g1", reason="klaar"),
    # A session named on a rejection or withdrawal is an argument added later: it joins the
    # fingerprint only when given, so the pins above still hold.
    "reject_proposal in a session": RejectProposal(
        C, proposal_id="p1", reason="no", session_id="s2"
    ),
    "disclose": DiscloseContract(C, reason="Woo: actieve openbaarmaking"),
    "withdraw_disclosure": WithdrawDisclosure(C, reason="persoonsgegevens in bijlage"),
    "record_measurement_batch": RecordMeasurementBatch(
        C,
        reports=(
            MeasurementReport(
                "i1", Period(date(2025, 1, 1), date(2025, 3, 31)), Decimal("6.5"), "CBS"
            ),
            MeasurementReport("i2", Period(date(2025, 1, 1), date(2025, 3, 31)), "ja", "eigen", 2),
        ),
    ),
}

PINNED = {
    "open_contract": "f25fe642309b9bcbb8526a60847518b889def3339ee3df05ab9526247eb47ffb",
    "admit_provider": "37eb5a1522a5f6b69f20122d422d2f8d891c2a3815c27e2bf1dee6933e6a14b9",
    "withdraw_provider": "b55e6c7269a7bef38d02004faabec2458420acc44feecd01660c4c57637be6ca",
    "register_stakeholder": "64a470693dde757573f8fda06c70ea2f2e08dfde3708b207fc9e094f9de457e0",
    "hold_session": "d6899ed3a50155338f241bc6d9e840fc519eba0249b320a38a41292e22af4534",
    "submit_proposal": "38a58ac1f88fe2405a8571368f68c148c1d059a8f0889bca72730a9c4134a82c",
    "submit_proposal goal": "255120aa0f392d2618e108f5de16c77299593cbdcf6a380ef6f0015b4f8a5b31",
    "give_consent": "c4ebb5c81f2e4324b3c70190a57ba1b8368f9349a7da673e3f820df3cbfb15f0",
    "reject_proposal": "c79587fc2faeab0b22c260876521d912f480f0f74c1f46f5d6a722312d0cab6d",
    "withdraw_proposal": "47b937a87b0ff2a0300204dd8968c00024b811e68ad8b38f256997969aaed440",
    "record_measurement": "691c7f0f1fb1fb431f6e1bfbd59bb95b245341ccd5b830ffe51ca6a64d988bcb",
    "issue_publication": "2dc6c35cfbbcec225f10bc94de740411f407d9da2c327a15b8d349586b5f0d7a",
    "consult_residents": "8f0b6233d5cfc19af682c184772b0ad5d263fc3e89115faff526995958451f84",
    "activate": "48458877717f6e27170d13179ccc84a546b5a6fe24c6912efd5d20f4acc818c7",
    "suspend": "c6bb6f05cf2d89d117ee92348fbbff5f3db1e7bcc10a232f02db42a724c16621",
    "resume": "22a6a00b2eb1a5e756ad5f41530a5d4d3b9f9b70782a6778dfc304e3611a1631",
    "terminate": "627372f540b571dc69e3f84a6f8375caeb6794038e57cf025fe557ed52fe263e",
    "complete": "4b10cbb11ff7ada73bcc4af6bf4fd6782c619d86315ee7e7c1e350aab0b6ac22",
    "record_evaluation": "5407f954023747d449e7ba55d5640b4fd01f74d7ced1b78ac8cb4c0dbad3a720",
    "correct": "49e3c10b56d05736984efbb687bd38302b7dcc3087d795d3f1c2c8a4c5d6f476",
    "accept_invitation": "78acbdbd55278b4cf04ffe96d5846a02ab2075fe0e942394801e302015ccddc4",
    "decline_invitation": "02f901756986324b393d9fec9864de134b0e991bf9294810b60051248d3a78ff",
    "grant_access": "740204c5990c983e8800a7d832c2b6667ec89d748461956933156f3c30ec64a9",
    "revoke_access": "cfa946eda7a5c3d56b87df1d8a139680f0bc40a093c4c6b098d2e31e849aa0e6",
    "reject_proposal in a session": (
        "a80978a86fe525c23e2c7dad59ef0e99cc2f2bb34d8eba7e5d4f7e57a54e5163"
    ),
    "disclose": "73f6bfe74750203ac070bd03a095faa507fb52f05948ac50148d1a891ecfa8bd",
    "withdraw_disclosure": "b2a305f1cb8395b322609d1c85faad632d659c01de1203873f68892444844e57",
    "record_measurement_batch": (
        "cce1aa0e2e29baf789aac6f8a2861a6ac29b5b04b7de3e4ad313f3cabd12d89a"
    ),
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_fingerprint_stays_byte_identical(case: str) -> None:
    assert fingerprint(CASES[case]) == PINNED[case]


def test_every_command_is_pinned() -> None:
    pinned = {type(command) for command in CASES.values()}
    commands = {c for c in _subclasses(ContractCommand) if c.__module__ == "application.commands"}
    assert pinned == {OpenContract, *commands}


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}
