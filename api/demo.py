"""A realistic demo: a municipality and two providers running integrated neighbourhood support.

Loaded through the application layer exactly as the API would: sessions, a goal chain, three
indicators with quarterly measurements, a reallocation, a scope refinement and a rejected
proposal. Effective dates are the real ones of the story; recorded times are now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    ConsultResidents,
    GiveConsent,
    HoldSession,
    IssuePublication,
    OpenContract,
    RecordMeasurement,
    RegisterStakeholder,
    RejectProposal,
    SubmitProposal,
)
from application.errors import ReferenceTaken
from application.service import ContractService, Principal
from domain.goals import ChangeAction, DeliveredBy, GoalChange, GoalLevel
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.money import Adjustment
from domain.proposals import Change, ScopeRefinement
from domain.values import Allocation, Participant, Period

MUNICIPALITY = "gemeente-utrecht"
NEIGHBOURHOOD_TEAM = "buurtteam-noord"
WELFARE = "welzijn-plus"
REFERENCE = "WMO-2025-017"

PEOPLE = {
    MUNICIPALITY: Principal(
        "annemarie.devries", "Annemarie de Vries", MUNICIPALITY, frozenset({"contract_manager"})
    ),
    NEIGHBOURHOOD_TEAM: Principal(
        "joost.bakker", "Joost Bakker", NEIGHBOURHOOD_TEAM, frozenset({"contract_manager"})
    ),
    WELFARE: Principal(
        "fatima.elamrani", "Fatima El Amrani", WELFARE, frozenset({"contract_manager"})
    ),
}
AUDITOR = Principal(
    "rekenkamer.utrecht", "Rekenkamer Utrecht", MUNICIPALITY, frozenset({"auditor"})
)


#: How many demo contracts one store takes (WMO-2025-017, WMO-2025-017-2, …).
MAX_DEMOS = 1000
#: the term's first day: the providers, stakeholders and the start of delivery take effect then
START = date(2025, 1, 1)


@dataclass
class Demo:
    service: ContractService
    contract_id: str = ""
    reference: str = ""
    #: session id → the day it was held: what is decided in it takes effect that day
    held: dict[str, date] = field(default_factory=dict)

    def load(self) -> str:
        """Load a fresh demo contract under the first demo reference not yet taken."""
        for n in range(1, MAX_DEMOS + 1):
            reference = REFERENCE if n == 1 else f"{REFERENCE}-{n}"
            try:
                self.contract_id = self._open(reference)
            except ReferenceTaken:
                continue
            self.reference = reference
            self._tell_the_story()
            return self.contract_id
        raise ReferenceTaken(f"{MAX_DEMOS} demo contracts are loaded already; that is enough")

    def _open(self, reference: str) -> str:
        return self.service.handle(
            PEOPLE[MUNICIPALITY],
            OpenContract(
                reference=reference,
                title="Integrale wijkondersteuning Utrecht Noord",
                assignment="Inwoners van Utrecht Noord krijgen dichtbij huis passende "
                "ondersteuning, zodat zij zo lang mogelijk zelfstandig en naar vermogen meedoen.",
                procedure="dialogue",
                term=Period(date(2025, 1, 1), date(2028, 12, 31)),
                ceiling=Decimal("4800000.00"),
                budget_period=Period(date(2025, 1, 1), date(2025, 12, 31)),
            ),
        ).contract_id

    def _tell_the_story(self) -> None:
        gemeente, buurtteam, welzijn = (
            PEOPLE[o] for o in (MUNICIPALITY, NEIGHBOURHOOD_TEAM, WELFARE)
        )
        s = self.service
        cid = self.contract_id
        s.handle(
            gemeente,
            AdmitProvider(
                cid,
                org=NEIGHBOURHOOD_TEAM,
                name="Buurtteams Utrecht Noord",
                rationale="Sterk lokaal netwerk, bewezen aanpak bij multiproblematiek, "
                "klik met wijk",
                effective_on=START,
            ),
        )
        s.handle(
            gemeente,
            AdmitProvider(
                cid,
                org=WELFARE,
                name="Welzijn Plus",
                rationale="Ervaring met informele zorg en vrijwilligers; vult het buurtteam aan",
                effective_on=START,
            ),
        )
        for provider in (NEIGHBOURHOOD_TEAM, WELFARE):
            s.handle(PEOPLE[provider], AcceptInvitation(cid, org=provider, effective_on=START))
        for name, kind in (
            ("Zilveren Kruis", "health_insurer"),
            ("Wmo-adviesraad Utrecht", "client_council"),
        ):
            s.handle(gemeente, RegisterStakeholder(cid, name=name, kind=kind, effective_on=START))
        s.handle(
            gemeente,
            ActivateContract(
                cid, reason="Start levering en dialoog per 1 januari", effective_on=START
            ),
        )

        kickoff = self._session(date(2025, 1, 14), "Startbijeenkomst: visie en eerste effecten")
        vision = self._agree(
            gemeente,
            kickoff,
            GoalChange(
                ChangeAction.ADD,
                GoalLevel.VISION,
                text="Inwoners van Noord leven gezond en doen naar vermogen mee",
                effective_on=self.held[kickoff],
            ),
            "De visie uit het beleidsplan sociaal domein",
            [buurtteam, welzijn],
        )
        effect = self._agree(
            buurtteam,
            kickoff,
            GoalChange(
                ChangeAction.ADD,
                GoalLevel.EFFECT,
                parent_id=vision,
                text="Minder inwoners vallen terug in zwaardere zorg",
                effective_on=self.held[kickoff],
            ),
            "Eerste effect uit de dialoog",
            [gemeente, welzijn],
        )
        result = self._agree(
            welzijn,
            kickoff,
            GoalChange(
                ChangeAction.ADD,
                GoalLevel.RESULT,
                parent_id=effect,
                text="Inwoners met een ondersteuningsvraag hebben binnen twee weken een plan",
                effective_on=self.held[kickoff],
            ),
            "Snel een plan voorkomt escalatie",
            [gemeente, buurtteam],
        )
        self._agree(
            buurtteam,
            kickoff,
            GoalChange(
                ChangeAction.ADD,
                GoalLevel.PERFORMANCE,
                parent_id=result,
                text="Wekelijks inloopspreekuur in elk wijkcentrum",
                delivered_by=DeliveredBy.MIXED,
                effective_on=self.held[kickoff],
            ),
            "Laagdrempelig contact",
            [gemeente, welzijn],
        )

        spring = self._session(date(2025, 3, 11), "Indicatoren afspreken")
        relapse = self._indicator(
            spring,
            "Terugval",
            "Aandeel cliënten dat binnen 12 maanden terugvalt in maatwerk",
            "%",
            Direction.LOWER_IS_BETTER,
            "8.0",
            "5.0",
            result,
        )
        waiting = self._indicator(
            spring,
            "Wachttijd",
            "Mediane dagen van aanmelding tot plan",
            "dagen",
            Direction.LOWER_IS_BETTER,
            "21",
            "14",
            result,
        )
        satisfaction = self._indicator(
            spring,
            "Tevredenheid",
            "Gemiddelde score cliëntervaringsonderzoek",
            "score",
            Direction.HIGHER_IS_BETTER,
            "7.1",
            "7.8",
            result,
        )
        s.handle(
            gemeente,
            SubmitProposal(
                cid,
                session_id=spring,
                effective_on=self.held[spring],
                change=Adjustment(
                    legal_basis="Art. 2.163b Aanbestedingswet (binnen het plafond)",
                    value=Decimal("0.00"),
                    effective_on=date(2025, 4, 1),
                    allocations=(
                        Allocation(NEIGHBOURHOOD_TEAM, Decimal("3100000.00")),
                        Allocation(WELFARE, Decimal("1400000.00")),
                    ),
                ),
                rationale="Eerste verdeling van het budget over de aanbieders",
            ),
        )
        self._consent_all_open([buurtteam, welzijn], self.held[spring])

        quarters = [
            (date(2025, 1, 1), date(2025, 3, 31)),
            (date(2025, 4, 1), date(2025, 6, 30)),
            (date(2025, 7, 1), date(2025, 9, 30)),
            (date(2025, 10, 1), date(2025, 12, 31)),
        ]
        series = {
            relapse: ["7.8", "7.1", "6.6", "6.2"],
            waiting: ["20", "18", "17", "15"],
            satisfaction: ["7.0", "7.3", "7.2", "7.3"],
        }
        for indicator_id, values in series.items():
            for (start, end), value in zip(quarters, values, strict=True):
                s.handle(
                    buurtteam,
                    RecordMeasurement(
                        cid,
                        indicator_id=indicator_id,
                        period=Period(start, end),
                        value=Decimal(value),
                        source="Registratie buurtteams",
                    ),
                )

        summer = self._session(date(2025, 6, 17), "Tussentijds bijstellen: meer inzet op welzijn")
        s.handle(
            welzijn,
            SubmitProposal(
                cid,
                session_id=summer,
                effective_on=self.held[summer],
                change=Adjustment(
                    legal_basis="Art. 2.163b Aanbestedingswet (herverdeling binnen het plafond)",
                    value=Decimal("0.00"),
                    effective_on=date(2025, 7, 1),
                    allocations=(
                        Allocation(NEIGHBOURHOOD_TEAM, Decimal("2950000.00")),
                        Allocation(WELFARE, Decimal("1550000.00")),
                    ),
                ),
                rationale="Meer vrijwilligersinzet vraagt € 150.000 verschuiving naar welzijn",
            ),
        )
        self._consent_all_open([gemeente, buurtteam], self.held[summer])
        s.handle(
            buurtteam,
            SubmitProposal(
                cid,
                session_id=summer,
                effective_on=self.held[summer],
                change=ScopeRefinement(
                    assignment="Inwoners van Utrecht Noord krijgen dichtbij huis passende "
                    "ondersteuning; het buurtteam coördineert, welzijn organiseert de informele "
                    "steun, en inwoners zijn mede-eigenaar van de wijkaanpak.",
                ),
                rationale="De rolverdeling uit de praktijk vastleggen",
            ),
        )
        self._consent_all_open([gemeente, welzijn], self.held[summer])
        rejected = s.handle(
            buurtteam,
            SubmitProposal(
                cid,
                session_id=summer,
                effective_on=self.held[summer],
                change=Adjustment(
                    legal_basis="Art. 2.163c Aanbestedingswet",
                    value=Decimal("600000.00"),
                    effective_on=date(2025, 9, 1),
                    ceiling=Decimal("5400000.00"),
                    decision_ref="Raadsvoorstel 2025-112 (concept)",
                    justification="Stijgende vraag in Overvecht",
                ),
                rationale="Plafond verhogen vanwege stijgende vraag",
            ),
        ).created_id
        s.handle(
            gemeente,
            RejectProposal(
                cid,
                proposal_id=str(rejected),
                reason="Eerst effect van de herverdeling afwachten; terug in Q4",
                session_id=summer,
                effective_on=self.held[summer],
            ),
        )
        autumn = self._session(date(2025, 10, 7), "Evaluatie met inwoners en Wmo-adviesraad")
        s.handle(
            gemeente,
            ConsultResidents(
                cid,
                held_on=date(2025, 10, 7),
                method="wijkavond",
                summary="Inwoners waarderen het inloopspreekuur; wachttijd blijft een zorg",
                participants_count=64,
            ),
        )
        s.handle(
            gemeente,
            IssuePublication(
                cid,
                audience="gemeenteraad",
                channel="raadsinformatiebrief",
                summary=f"Voortgang wijkondersteuning Noord (sessie {autumn[:8]})",
                effective_on=self.held[autumn],
            ),
        )

    def _session(self, held_on: date, summary: str) -> str:
        people = [Participant(p.name, p.org, "contractmanager") for p in PEOPLE.values()]
        result = self.service.handle(
            PEOPLE[MUNICIPALITY],
            HoldSession(
                self.contract_id,
                held_on=held_on,
                kind="dialogue",
                participants=tuple(people),
                minutes_ref=f"Verslag {held_on.isoformat()}",
                summary=summary,
            ),
        )
        self.held[str(result.created_id)] = held_on
        return str(result.created_id)

    def _agree(
        self,
        proposer: Principal,
        session: str,
        change: Change,
        rationale: str,
        others: list[Principal],
    ) -> str:
        on = self.held[session]
        proposal_id = self.service.handle(
            proposer,
            SubmitProposal(
                self.contract_id,
                session_id=session,
                change=change,
                rationale=rationale,
                effective_on=on,
            ),
        ).created_id
        for person in others:
            self.service.handle(
                person,
                GiveConsent(
                    self.contract_id,
                    proposal_id=str(proposal_id),
                    session_id=session,
                    effective_on=on,
                ),
            )
        proposal = self.service.get_proposal(proposer, self.contract_id, str(proposal_id))
        return next(iter(proposal.body.created_ids.values()))

    def _indicator(
        self,
        session: str,
        name: str,
        definition: str,
        unit: str,
        direction: Direction,
        baseline: str,
        target: str,
        result: str,
    ) -> str:
        change = IndicatorChange(
            ChangeAction.ADD,
            name=name,
            definition=definition,
            unit=unit,
            direction=direction,
            baseline=Baseline(Decimal(baseline), date(2024, 12, 31), "Nulmeting 2024"),
            target=Target(Decimal(target), date(2026, 12, 31)),
            frequency="quarterly",
            data_source="Registratie buurtteams",
            result_id=result,
            effective_on=self.held[session],
        )
        return self._agree(
            PEOPLE[MUNICIPALITY],
            session,
            change,
            f"KPI {name}",
            [PEOPLE[NEIGHBOURHOOD_TEAM], PEOPLE[WELFARE]],
        )

    def _consent_all_open(self, people: list[Principal], on: date) -> None:
        contract = self.service.get_contract(people[0], self.contract_id)
        for proposal in contract.proposals:
            if proposal.status == "open":
                for person in people:
                    if person.org in proposal.awaiting:
                        self.service.handle(
                            person,
                            GiveConsent(
                                self.contract_id,
                                proposal_id=proposal.proposal_id,
                                session_id=proposal.session_id,
                                effective_on=on,
                            ),
                        )
