"""Use cases on cases. Services take a session and an actor, flush, and never commit."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from schulden.cases.models import Case, Detainee, DetentionType
from schulden.organisations.models import Organisation
from workflows import Actor, Engine, HistoryEntry, WorkflowInstance


def normalise_name(value: str) -> str:
    """NFC, so 'é' typed as e + combining accent and the IJ ligature compare and sort as users expect."""
    return unicodedata.normalize("NFC", value).strip()


def open_case(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    given_names: str,
    surname: str,
    date_of_birth: date,
    pi: Organisation,
    detention_type: DetentionType,
    detention_start: date,
    expected_release: date | None = None,
    surname_prefix: str | None = None,
    bsn: str | None = None,
    dji_number: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Register a detainee's detention and start its case in `draft`. Does not commit."""
    detainee = Detainee(
        given_names=normalise_name(given_names),
        surname_prefix=normalise_name(surname_prefix) if surname_prefix else None,
        surname=normalise_name(surname),
        date_of_birth=date_of_birth,
        bsn=bsn,
        dji_number=dji_number,
    )
    session.add(detainee)
    session.flush()
    instance = engine.start(session, "case", actor=actor, now=now)
    case = Case(
        detainee_id=detainee.id,
        instance_id=instance.id,
        pi_id=pi.id,
        detention_type=detention_type.value,
        detention_start=detention_start,
        expected_release=expected_release,
    )
    session.add(case)
    session.flush()
    return case


def fire_case_event(
    session: Session,
    engine: Engine,
    case: Case,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> HistoryEntry:
    """Fire a workflow event on the case (TransitionRefused / ConcurrentUpdate propagate). Does not commit."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    return engine.fire(session, instance, event, actor=actor, payload=payload, reason=reason, now=now)
