"""The five basisvoorwaarden at release (domain.md 0, 1.3): ID, housing, income, debts and care.

DJI and the municipality work on these from the first day of detention; the debts are the rest of this application,
the other four are recorded here during the case, one row per case, and go into the handover file and the L8
letter. Every column may be empty: empty means "not known yet", and the file and the letter print "onbekend" for
it, never a blank.

Both front doors call `set_release_conditions` (PUT /api/v1/cases/<id>/release-conditions and the page
"Basisvoorwaarden na vrijlating"): the same roles as the household (access.CASE_WRITERS), the case's scope from
the door's `get_case`, the same rules across fields, and the `case.conditions.update` audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import fields
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from schulden import audit
from schulden.access import CASE_WRITERS
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.db import Base
from schulden.errors import NotPermitted, ValidationFailed
from schulden.fields import Day, DutchSchema, PlainText, one_of
from workflows import ConcurrentUpdate
from workflows.store import utcnow

TIMEZONE = ZoneInfo("Europe/Amsterdam")
UNKNOWN = "onbekend"


class IdDocument(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NONE = "none"
    APPLIED = "applied"  # applied for (since 2023 possible in the 26 municipalities with a prison, domain.md 1.3)


class BankAccount(StrEnum):
    HAS_ACCOUNT = "has_account"
    BLOCKED = "blocked"
    BASIC_ACCOUNT = "basic_account"  # basisbetaalrekening
    NONE = "none"


class IncomeAfterRelease(StrEnum):
    BENEFIT_APPLIED = "benefit_applied"
    BENEFIT_GRANTED = "benefit_granted"
    WORK = "work"
    NONE = "none"


class HousingAfterRelease(StrEnum):
    OWN_HOME = "own_home"
    RENTED_ROOM = "rented_room"
    FAMILY_OR_FRIENDS = "family_or_friends"
    SHELTER = "shelter"  # maatschappelijke opvang
    NONE = "none"


class HealthInsurance(StrEnum):
    SUSPENDED = "suspended"  # the rule during detention (domain.md 2.3)
    ACTIVE = "active"
    ENDED = "ended"


class CareArranged(StrEnum):
    ARRANGED = "arranged"
    NEEDED = "needed"
    NOT_NEEDED = "not_needed"


#: The labels the page, the handover file and the L8 letter print for each value.
ID_DOCUMENT_NL = {
    IdDocument.VALID.value: "geldig identiteitsbewijs",
    IdDocument.EXPIRED.value: "identiteitsbewijs verlopen",
    IdDocument.NONE.value: "geen identiteitsbewijs",
    IdDocument.APPLIED.value: "identiteitsbewijs aangevraagd",
}
BANK_ACCOUNT_NL = {
    BankAccount.HAS_ACCOUNT.value: "heeft een bankrekening",
    BankAccount.BLOCKED.value: "bankrekening geblokkeerd",
    BankAccount.BASIC_ACCOUNT.value: "basisbetaalrekening",
    BankAccount.NONE.value: "geen bankrekening",
}
INCOME_NL = {
    IncomeAfterRelease.BENEFIT_APPLIED.value: "uitkering aangevraagd",
    IncomeAfterRelease.BENEFIT_GRANTED.value: "uitkering toegekend",
    IncomeAfterRelease.WORK.value: "werk",
    IncomeAfterRelease.NONE.value: "geen inkomen geregeld",
}
HOUSING_NL = {
    HousingAfterRelease.OWN_HOME.value: "eigen woning",
    HousingAfterRelease.RENTED_ROOM.value: "huurt een kamer",
    HousingAfterRelease.FAMILY_OR_FRIENDS.value: "bij familie of vrienden",
    HousingAfterRelease.SHELTER.value: "maatschappelijke opvang",
    HousingAfterRelease.NONE.value: "geen woonplek",
}
HEALTH_INSURANCE_NL = {
    HealthInsurance.SUSPENDED.value: "opgeschort tijdens de detentie",
    HealthInsurance.ACTIVE.value: "loopt",
    HealthInsurance.ENDED.value: "beëindigd",
}
CARE_NL = {
    CareArranged.ARRANGED.value: "geregeld",
    CareArranged.NEEDED.value: "nodig, nog niet geregeld",
    CareArranged.NOT_NEEDED.value: "niet nodig",
}

#: The fields in the order of the form, the file and the letter, with their Dutch labels (errors name them).
FIELD_LABELS: dict[str, str] = {
    "id_document": "Identiteitsbewijs",
    "id_valid_until": "Identiteitsbewijs geldig tot",
    "bank_account": "Bankrekening",
    "income_after_release": "Inkomen na vrijlating",
    "income_office": "Uitkering aangevraagd bij",
    "income_applied_on": "Uitkering aangevraagd op",
    "housing_after_release": "Wonen na vrijlating",
    "postal_address": "Adres of postadres na vrijlating",
    "health_insurance": "Zorgverzekering",
    "care_arranged": "Zorg en begeleiding",
    "contact_after_release": "Telefoon of e-mail na vrijlating",
}
FIELDS: tuple[str, ...] = tuple(FIELD_LABELS)
CHOICES: dict[str, dict[str, str]] = {
    "id_document": ID_DOCUMENT_NL,
    "bank_account": BANK_ACCOUNT_NL,
    "income_after_release": INCOME_NL,
    "housing_after_release": HOUSING_NL,
    "health_insurance": HEALTH_INSURANCE_NL,
    "care_arranged": CARE_NL,
}
BENEFIT_STATES = frozenset({IncomeAfterRelease.BENEFIT_APPLIED.value, IncomeAfterRelease.BENEFIT_GRANTED.value})


def _known(column: str, values: Mapping[str, str]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({listed})", name=f"{column}_known")


class ReleaseConditions(Base):
    """The basisvoorwaarden of one case. A missing row and an empty column both mean "onbekend"."""

    __tablename__ = "release_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), unique=True)
    id_document: Mapped[str | None] = mapped_column(String(10))
    id_valid_until: Mapped[date | None]
    bank_account: Mapped[str | None] = mapped_column(String(16))
    income_after_release: Mapped[str | None] = mapped_column(String(20))
    income_office: Mapped[str | None] = mapped_column(String(200))  # where: "UWV", "gemeente Zwolle"
    income_applied_on: Mapped[date | None]
    housing_after_release: Mapped[str | None] = mapped_column(String(20))
    postal_address: Mapped[str | None] = mapped_column(String(300))  # the home or postal address after release
    health_insurance: Mapped[str | None] = mapped_column(String(10))
    care_arranged: Mapped[str | None] = mapped_column(String(12))
    contact_after_release: Mapped[str | None] = mapped_column(String(200))  # phone or e-mail
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (
        _known("id_document", ID_DOCUMENT_NL),
        _known("bank_account", BANK_ACCOUNT_NL),
        _known("income_after_release", INCOME_NL),
        _known("housing_after_release", HOUSING_NL),
        _known("health_insurance", HEALTH_INSURANCE_NL),
        _known("care_arranged", CARE_NL),
    )


# -- the input, as both doors take it -------------------------------------------------------------------------------


class ReleaseConditionsIn(DutchSchema):
    """The whole set (PUT): a field left out or null is "onbekend"."""

    id_document = fields.String(load_default=None, allow_none=True, validate=one_of(list(ID_DOCUMENT_NL)))
    id_valid_until = Day(load_default=None, allow_none=True)
    bank_account = fields.String(load_default=None, allow_none=True, validate=one_of(list(BANK_ACCOUNT_NL)))
    income_after_release = fields.String(load_default=None, allow_none=True, validate=one_of(list(INCOME_NL)))
    income_office = PlainText(load_default=None, allow_none=True, maximum=200)
    income_applied_on = Day(load_default=None, allow_none=True)
    housing_after_release = fields.String(load_default=None, allow_none=True, validate=one_of(list(HOUSING_NL)))
    postal_address = PlainText(load_default=None, allow_none=True, maximum=300)
    health_insurance = fields.String(load_default=None, allow_none=True, validate=one_of(list(HEALTH_INSURANCE_NL)))
    care_arranged = fields.String(load_default=None, allow_none=True, validate=one_of(list(CARE_NL)))
    contact_after_release = PlainText(load_default=None, allow_none=True, maximum=200)


class ReleaseConditionsOut(DutchSchema):
    case_id = fields.Integer()
    id_document = fields.String(allow_none=True)
    id_valid_until = fields.Date(allow_none=True)
    bank_account = fields.String(allow_none=True)
    income_after_release = fields.String(allow_none=True)
    income_office = fields.String(allow_none=True)
    income_applied_on = fields.Date(allow_none=True)
    housing_after_release = fields.String(allow_none=True)
    postal_address = fields.String(allow_none=True)
    health_insurance = fields.String(allow_none=True)
    care_arranged = fields.String(allow_none=True)
    contact_after_release = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "0 zolang er niets is vastgelegd; stuur mee in If-Match"})
    updated_at = fields.DateTime(allow_none=True)


# -- reads and the operation ------------------------------------------------------------------------------------------


def conditions_of(session: Session, case_id: int) -> ReleaseConditions | None:
    """The row of the case, or None when nothing was recorded yet. Reads only, writes no audit row."""
    return session.scalars(select(ReleaseConditions).where(ReleaseConditions.case_id == case_id)).one_or_none()


def version_of(row: ReleaseConditions | None) -> int:
    """The version a door shows (ETag) and expects back: 0 before anything was recorded."""
    return row.row_version if row is not None else 0


def conditions_view(case: Case, row: ReleaseConditions | None) -> dict[str, Any]:
    """What GET answers and the form shows: every field (None when unknown) and the version."""
    view: dict[str, Any] = {name: getattr(row, name) if row is not None else None for name in FIELDS}
    view.update(case_id=case.id, version=version_of(row), updated_at=row.updated_at if row is not None else None)
    return view


def read_release_conditions(
    session: Session, actor: UserActor, case: Case, *, origin: str | None = None
) -> ReleaseConditions | None:
    """The case's basisvoorwaarden, with the `case.conditions.read` row. The door has checked the scope."""
    row = conditions_of(session, case.id)
    audit.record(session, actor=actor, action="case.conditions.read", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin)  # fmt: skip
    return row


def _today() -> date:
    return datetime.now(UTC).astimezone(TIMEZONE).date()


def _check(values: Mapping[str, Any], today: date) -> dict[str, list[str]]:
    """Each value of its kind, then the rules across fields and against today; each message names its field."""
    return _check_kinds(values) or _check_rules(values, today)


def _refuser(errors: dict[str, list[str]]) -> Callable[[str, str], None]:
    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(f"{FIELD_LABELS[name]}: {message}")

    return refuse


def _check_kinds(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """A caller that did not load through ReleaseConditionsIn still gets Dutch messages, not a database error."""
    errors: dict[str, list[str]] = {}
    refuse = _refuser(errors)
    unknown = sorted(set(values) - set(FIELDS))
    for name in unknown:
        errors[name] = ["Onbekend veld."]
    for name, labels in CHOICES.items():
        value = values.get(name)
        if value is not None and value not in labels:
            refuse(name, "kies een van: " + ", ".join(labels) + ".")
    for name in ("id_valid_until", "income_applied_on"):
        value = values.get(name)
        if value is not None and not isinstance(value, date):
            refuse(name, "geen geldige datum; gebruik JJJJ-MM-DD.")
    for name in ("income_office", "postal_address", "contact_after_release"):
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            refuse(name, "geen geldige tekst.")
    return errors


def _check_rules(values: Mapping[str, Any], today: date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    refuse = _refuser(errors)
    document, valid_until = values.get("id_document"), values.get("id_valid_until")
    if valid_until is not None:
        if document not in (IdDocument.VALID.value, IdDocument.EXPIRED.value):
            refuse("id_valid_until", "vul dit alleen in bij een geldig of verlopen identiteitsbewijs.")
        elif document == IdDocument.VALID.value and valid_until < today:
            refuse("id_valid_until", "deze datum is voorbij; kies 'identiteitsbewijs verlopen'.")
        elif document == IdDocument.EXPIRED.value and valid_until >= today:
            refuse("id_valid_until", "deze datum is nog niet voorbij; kies 'geldig identiteitsbewijs'.")
    income = values.get("income_after_release")
    for name in ("income_office", "income_applied_on"):
        if values.get(name) is not None and income not in BENEFIT_STATES:
            refuse(name, "vul dit alleen in als er een uitkering is aangevraagd of toegekend.")
    applied_on = values.get("income_applied_on")
    if applied_on is not None and applied_on > today:
        refuse("income_applied_on", "deze datum ligt in de toekomst.")
    contact = values.get("contact_after_release")
    if contact and not any(ch.isdigit() for ch in contact) and "@" not in contact:
        refuse("contact_after_release", "geef een telefoonnummer of een e-mailadres.")
    return errors


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def set_release_conditions(
    session: Session,
    actor: UserActor,
    case: Case,
    values: Mapping[str, Any],
    *,
    origin: str | None = None,
    expected_version: int | None = None,
    today: date | None = None,
) -> ReleaseConditions:
    """Replace the case's basisvoorwaarden with `values` (a field left out is "onbekend").

    `values` are loaded values (ReleaseConditionsIn: dates as dates, empty text as None); the rules across fields
    raise ValidationFailed naming the field. `expected_version` is the version the caller saw (the API's If-Match,
    the form's hidden field; 0 before anything was recorded): a different one raises ConcurrentUpdate, never an
    overwrite. The door has checked the case's scope; the role is checked here too. Flushes, never commits.
    """
    if actor.role not in CASE_WRITERS:
        raise NotPermitted("Uw rol mag de basisvoorwaarden wijzigen niet uitvoeren.")
    cleaned = {name: _clean(value) for name, value in values.items()}
    errors = _check(cleaned, today or _today())
    if errors:
        raise ValidationFailed(errors)
    row = conditions_of(session, case.id)
    if expected_version is not None and expected_version != version_of(row):
        raise ConcurrentUpdate(case.instance_id)
    created = row is None
    if row is None:
        row = ReleaseConditions(case_id=case.id, updated_by=actor.actor_id)
    changed = [name for name in FIELDS if getattr(row, name) != cleaned.get(name)]
    for name in FIELDS:
        setattr(row, name, cleaned.get(name))
    row.updated_by = actor.actor_id
    if created:
        # Two first saves at once: the unique case_id lets one win; the other is a conflict, not a 500.
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            raise ConcurrentUpdate(case.instance_id) from None
    session.flush()
    # Field names only: the values are personal data (an address, a phone number) and stay out of the log.
    audit.record(session, actor=actor, action="case.conditions.update", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin, details={"fields": changed, "created": created})  # fmt: skip
    return row


def label(name: str, value: Any) -> str:
    """One value as the file and the letter print it; "onbekend" when empty."""
    if value is None or value == "":
        return UNKNOWN
    if name in CHOICES:
        return CHOICES[name].get(str(value), str(value))
    return str(value)
