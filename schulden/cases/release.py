"""The release: an early or unexpected release (or any release not yet known) recorded on the case (issue 12).

`record_release` is the one operation behind POST /api/v1/cases/<id>/release and the case page's "Vrijlating
vastleggen". In one transaction it

* records `actual_release` and fires `release_early` (from the inventory, its completion, on hold or waiting for
  consent the case moves to `referral_due`; from a draft and once the referral is due or sent the state stays and
  the history keeps the day);
* stops the letters not sent yet that describe the client as detained (L1-L5, L6's suspension, L7, L9; not L8 the
  referral, not L10 the withdrawal) with the reason on each (letters.lifecycle.cancel_describing_detention); the
  creditors' reminders stop by a guard of the debt process (debts.workflow, STILL_DETAINED);
* asks the health insurer for the reactivation of the basic insurance (L6 round 2), when the insurer is known;
* and sends the referral at once when a counsellor records the release of a case whose referral is due, with the
  municipality chosen and a consent in force for it (domain.md 9.1: refer the same day). Otherwise the referral
  stands at the top of the work list, due today.

`plan_release` answers what it will do without doing it (the page's check step), with the same checks.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.notices import request_insurer_letter
from schulden.cases.services import fire_case_event, instance_of
from schulden.consents import has_valid_consent, missing_consent_message
from schulden.creditors.models import Creditor
from schulden.errors import DomainError, NotPermitted, ValidationFailed
from schulden.fields import Day, DutchSchema
from schulden.letters.lifecycle import DESCRIBE_DETENTION, OPEN, cancel_describing_detention
from schulden.letters.models import Letter
from schulden.letters.templates import datum
from schulden.referrals.models import Referral
from schulden.referrals.services import send_referral
from schulden.roles import Role
from workflows import Engine, TransitionRefused

#: Who records a release: the PI's casemanager (who sees the client leave) and the counsellor.
RELEASE_ROLES = frozenset({Role.PI_STAFF, Role.COUNSELLOR})
#: States from which `release_early` moves the case to `referral_due` (cases/workflow.py).
MOVES_TO_REFERRAL_DUE = frozenset({"awaiting_consent", "inventory", "inventory_complete", "on_hold"})
#: What the client must do himself after release (domain.md 2.3): shown on the page's check step and after it.
ZORGTOESLAG_REMINDER = (
    "Wijs de cliënt erop dat de zorgtoeslag opnieuw moet worden aangevraagd bij de Belastingdienst/Toeslagen: "
    "tijdens de detentie bestond er geen recht op."
)


class ReleaseIn(DutchSchema):
    """The release as both front doors take it."""

    released_on = Day(required=True)


class ReleaseRefused(DomainError):
    """The release cannot be recorded on this case (closed, or recorded already); the Dutch text says why."""


@dataclass(frozen=True)
class ReleasePlan:
    """What `record_release` will do for this case, actor and date."""

    released_on: date
    state: str  # the case's state now
    state_after: str
    letters: list[Letter] = field(default_factory=list)  # to be stopped
    insurer: Creditor | None = None  # asked for the reactivation (L6 round 2)
    sends_referral: bool = False
    #: Why the referral is not sent with the release (None when it is, or when it was sent before).
    referral_note: str | None = None


@dataclass(frozen=True)
class ReleaseResult:
    released_on: date
    state: str
    letters_stopped: list[int]
    insurer_letter: Letter | None
    referral: Referral | None


def plan_release(session: Session, engine: Engine, actor: UserActor, case: Case, *, released_on: date) -> ReleasePlan:
    """Check the release and say what it will do. NotPermitted for a role that may not, ReleaseRefused for a closed
    or already released case, ValidationFailed (naming `released_on`) for a date before the detention or in the
    future. Writes nothing."""
    if actor.role not in RELEASE_ROLES:
        raise NotPermitted("Uw rol mag een vrijlating vastleggen niet uitvoeren.")
    instance = instance_of(session, case)
    if instance.is_final:
        raise ReleaseRefused("Het dossier is afgesloten: een vrijlating vastleggen kan niet meer.")
    if case.actual_release is not None:
        raise ReleaseRefused(f"De vrijlating is al vastgelegd: {datum(case.actual_release)}.")
    today = engine.today()
    if released_on > today:
        raise ValidationFailed({"released_on": ["De datum van vrijlating ligt in de toekomst."]})
    if released_on < case.detention_start:
        raise ValidationFailed({"released_on": ["De datum van vrijlating ligt voor het begin van de detentie."]})
    state = instance.state
    state_after = "referral_due" if state in MOVES_TO_REFERRAL_DUE else state
    letters = list(
        session.scalars(select(Letter).where(Letter.case_id == case.id, Letter.status.in_(OPEN)).order_by(Letter.id))
    )
    stopped = [
        letter for letter in letters
        if letter.letter_type in DESCRIBE_DETENTION or (letter.letter_type == "L6" and letter.round == 1)
    ]  # fmt: skip
    insurer = session.get(Creditor, case.health_insurer_id) if case.health_insurer_id is not None else None
    note = _referral_note(session, actor, case, state_after, today)
    sends = note is None and state_after == "referral_due"
    return ReleasePlan(released_on, state, state_after, stopped, insurer, sends, note)


def _referral_note(session: Session, actor: UserActor, case: Case, state_after: str, today: date) -> str | None:
    """Why the release does not send the referral; None when it does (or the referral went before)."""
    if state_after in ("referred", "accepted"):
        return None
    if state_after == "draft":
        return "Zonder getekende toestemming kan er niet worden verwezen."
    if state_after == "rerouting":
        return "De gemeente heeft de verwijzing geweigerd: kies een andere gemeente en verstuur opnieuw."
    if case.municipality_id is None:
        return "Er is nog geen gemeente gekozen; de verwijzing staat vandaag bovenaan Mijn werk."
    if not has_valid_consent(
        session, case.id, ConsentPurpose.REFER_MUNICIPALITY, on=today, organisation_id=case.municipality_id
    ):
        return missing_consent_message(ConsentPurpose.REFER_MUNICIPALITY)
    if actor.role is not Role.COUNSELLOR:
        return "De schuldhulpverlener verstuurt de verwijzing; die ziet haar vandaag bovenaan Mijn werk."
    return None


def record_release(
    session: Session,
    engine: Engine,
    actor: UserActor,
    case: Case,
    *,
    released_on: date,
    origin: str | None = None,
) -> ReleaseResult:
    """Record the client's release on `released_on` with everything that follows from it (see the module). Raises
    as `plan_release`; writes the `case.release` audit row (and `referral.send` when the referral goes). Does not
    commit. The caller locks the case row (get_case(for_update=True)): two clicks record one release."""
    plan = plan_release(session, engine, actor, case, released_on=released_on)
    now = engine.clock()
    today = engine.today(now)
    case.actual_release = released_on
    session.flush()
    fire_case_event(session, engine, case, "release_early", actor=actor,
                    payload={"released_on": released_on.isoformat()}, now=now)  # fmt: skip
    stopped = cancel_describing_detention(
        session, case.id, reason=f"Vrijgelaten op {datum(released_on)}: de brief beschrijft de cliënt als gedetineerd"
    )
    insurer_letter = None
    if case.health_insurer_id is not None:
        insurer_letter = request_insurer_letter(session, case, round_=2, requested_by=actor.actor_id, today=today)
    referral = None
    if plan.sends_referral and instance_of(session, case).state == "referral_due":
        # The workflow checks again (municipality, consent): a refusal leaves the referral due today.
        with suppress(TransitionRefused):
            referral = send_referral(session, engine, case, actor=actor, include_district_team=False, now=now)
        if referral is not None:
            audit.record(
                session, actor=actor, action="referral.send", object_type="referral", object_id=referral.id,
                case_id=case.id, origin=origin, details={"district_team": False, "on_release": True},
            )  # fmt: skip
    session.flush()
    state = instance_of(session, case).state
    audit.record(
        session, actor=actor, action="case.release", object_type="case", object_id=case.id, case_id=case.id,
        origin=origin,
        details={
            "released_on": released_on.isoformat(),
            "letters_stopped": stopped,
            "insurer_letter": insurer_letter.id if insurer_letter is not None else None,
            "referral": referral.id if referral is not None else None,
            "state": state,
        },
    )  # fmt: skip
    return ReleaseResult(released_on, state, stopped, insurer_letter, referral)
