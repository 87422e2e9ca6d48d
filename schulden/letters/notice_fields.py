"""What L6 (health insurer) and L7 (benefit offices) say beyond the common fields: the policy number, and per
benefit what the detention does to it, with Toeslagen's 4-week term (schulden/cases/notices.py has the rules)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, HouseholdMember, HouseholdRelation
from schulden.cases.notices import (
    BENEFITS,
    TOESLAGEN_TERM_DAYS,
    benefits_by_office,
    benefits_of,
    office_of_letter,
)
from schulden.letters.models import Letter


def notice_fields(session: Session, letter: Letter, case: Case) -> dict[str, Any]:
    """The fields of L6 and L7; for other letters only the release date (every letter may need to know it)."""
    fields: dict[str, Any] = {"actual_release": case.actual_release}
    if letter.letter_type == "L6":
        fields["policy_number"] = case.health_policy_number
        fields["reactivation"] = letter.round > 1
        # Children under 18 are insured on a parent's policy; a partner has a policy of his or her own.
        children = session.scalar(
            select(func.count())
            .select_from(HouseholdMember)
            .where(HouseholdMember.case_id == case.id, HouseholdMember.relation == HouseholdRelation.CHILD.value)
        )
        fields["insured_children"] = children or None
    if letter.letter_type == "L7":
        fields.update(_benefit_fields(session, letter, case))
    return fields


def _benefit_fields(session: Session, letter: Letter, case: Case) -> dict[str, Any]:
    office = office_of_letter(session, letter)
    kinds = benefits_by_office(benefits_of(session, case)).get(office or "", [])
    deadline: date | None = None
    if office == "toeslagen":
        deadline = case.detention_start + timedelta(days=TOESLAGEN_TERM_DAYS)
    return {
        # "Zorgtoeslag: stopt: ..." — the benefit and what the detention does to it, one line each.
        "benefits": [f"{BENEFITS[kind].label}: {BENEFITS[kind].consequence}" for kind in kinds] or None,
        "report_deadline": deadline,
        "report_late": deadline is not None and letter.letter_date > deadline,
    }
