"""marshmallow schemas of the figures API: the query (period and grouping) and the answer."""

from __future__ import annotations

from marshmallow import fields

from schulden.fields import Day, DutchSchema, one_of
from schulden.figures.conditions import BASISVOORWAARDEN
from schulden.figures.queries import Grouping


class FiguresArgs(DutchSchema):
    # `from` is a Python keyword: the field is `start` in code and `from` in the query string.
    start = Day(required=True, data_key="from", metadata={"description": "Eerste dag van de periode (JJJJ-MM-DD)"})
    end = Day(required=True, data_key="to", metadata={"description": "Laatste dag van de periode, inbegrepen"})
    group_by = fields.String(
        load_default=Grouping.PI.value,
        validate=one_of([g.value for g in Grouping]),
        metadata={"description": "Per PI of per gemeente (de huidige PI en gemeente van het dossier)"},
    )


class PeriodOut(DutchSchema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")


class GroupOut(DutchSchema):
    id = fields.Integer(allow_none=True, metadata={"description": "Leeg: dossiers zonder gekozen gemeente"})
    name = fields.String()
    code = fields.String(allow_none=True)


class CreditorCountOut(DutchSchema):
    creditor_id = fields.Integer()
    name = fields.String()
    debts = fields.Integer()


#: Built from a dict: a class attribute `unknown` would clash, for the type checker, with marshmallow's option of
#: that name (at runtime the fields are taken off the class, so the option stays as it is).
ConditionCountsOut = DutchSchema.from_dict(
    {
        "arranged": fields.Integer(metadata={"description": "Geregeld"}),
        "not_arranged": fields.Integer(metadata={"description": "Niet geregeld"}),
        "unknown": fields.Integer(metadata={"description": "Onbekend: niets vastgelegd"}),
    },
    name="ConditionCountsOut",
)


#: One field per basisvoorwaarde, named after its column of the release conditions (GET .../release-conditions).
ConditionsAtReleaseOut = DutchSchema.from_dict(
    {
        name: fields.Nested(ConditionCountsOut, metadata={"description": condition.label})
        for name, condition in BASISVOORWAARDEN.items()
    },
    name="ConditionsAtReleaseOut",
)


class FigureValuesOut(DutchSchema):
    """The figures; docs/figures.md defines each."""

    cases_opened = fields.Integer()
    released = fields.Integer(metadata={"description": "Dossiers met de dag van vrijlating in de periode"})
    inventory_complete_at_release = fields.Integer()
    referred_before_release = fields.Integer()
    referred = fields.Integer(metadata={"description": "Dossiers verwezen in de periode"})
    accepted = fields.Integer(metadata={"description": "Dossiers door de gemeente geaccepteerd in de periode"})
    answered_debts = fields.Integer(metadata={"description": "Schulden met een eerste antwoord in de periode"})
    median_days_to_first_answer = fields.Float(allow_none=True)
    no_response_debts = fields.Integer(
        metadata={"description": "Schulden die in de periode na twee herinneringen naar 'geen reactie' gingen"}
    )
    unanswered_debts = fields.Integer(
        metadata={
            "description": "Schulden met een brief aan de schuldeiser verstuurd in de periode, waarop (tot nu toe) "
            "geen antwoord van de schuldeiser is vastgelegd (antwoordpagina of ingevoerd van post, telefoon of "
            "e-mail); een klik als 'Saldo ontvangen' is geen antwoord"
        }
    )
    never_answering_creditors = fields.List(
        fields.Nested(CreditorCountOut),
        metadata={"description": "De schulden zonder antwoord per aangeschreven schuldeiser of incassopartij"},
    )
    wgs_breaches = fields.Integer()
    intake_within_10_working_days = fields.Integer(
        metadata={
            "description": "Van de dossiers geopend in de periode: geopend uiterlijk op de 10e werkdag na de start "
            "van de detentie"
        }
    )
    referrals_with_first_conversation = fields.Integer(
        metadata={"description": "Verwijzingen met de Wgs-termijn eindigend in de periode en een datum eerste gesprek"}
    )
    first_conversation_within_wgs_term = fields.Integer(
        metadata={"description": "Daarvan: het eerste gesprek op of voor de laatste dag van de Wgs-termijn"}
    )
    wgs_term_passed_without_first_conversation = fields.Integer(
        metadata={
            "description": "Verwijzingen met de Wgs-termijn eindigend in de periode, nog open, zonder datum eerste "
            "gesprek, waarvan de termijn voorbij is"
        }
    )
    conditions_at_release = fields.Nested(
        ConditionsAtReleaseOut,
        metadata={
            "description": "Van de dossiers vrijgelaten in de periode (released): per basisvoorwaarde hoeveel er bij "
            "vrijlating geregeld, niet geregeld of onbekend waren; de drie tellen op tot released. Welke waarden "
            "als geregeld tellen staat in docs/figures.md"
        },
    )


class GroupFiguresOut(DutchSchema):
    group = fields.Nested(GroupOut)
    figures = fields.Nested(FigureValuesOut)


class FiguresOut(DutchSchema):
    period = fields.Nested(PeriodOut)
    group_by = fields.String()
    groups = fields.List(fields.Nested(GroupFiguresOut))
    total = fields.Nested(FigureValuesOut)
