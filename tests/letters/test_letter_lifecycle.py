"""The letter's and the referral delivery's lifecycles: each transition refused from a wrong state, and a person's
retry reaching the queue the way a new letter or referral does (the after-commit outbox)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import UserActor
from schulden.errors import NotPermitted
from schulden.letters import lifecycle
from schulden.letters.models import Letter, LetterStatus
from schulden.referrals import lifecycle as referral_lifecycle
from schulden.referrals.models import Referral, ReferralStatus
from schulden.roles import Role
from tests.conftest import NOW
from tests.factories import make_case
from workflows import Engine


def _letter(status: LetterStatus, **values: Any) -> Letter:
    return Letter(status=status.value, letter_type="L1", attempts=1, claimed_by="job:1", **values)


@pytest.mark.parametrize("status", [s for s in LetterStatus if s is not LetterStatus.FAILED])
def test_only_a_failed_letter_is_retried(status: LetterStatus) -> None:
    letter = _letter(status)
    with pytest.raises(lifecycle.LetterStateError, match="Alleen een mislukte brief"):
        lifecycle.retry(letter)
    assert letter.status == status.value


def test_a_retry_queues_the_letter_with_its_attempts_from_zero() -> None:
    letter = _letter(LetterStatus.FAILED, last_error="RuntimeError: x")
    lifecycle.retry(letter)
    assert (letter.status, letter.attempts) == (LetterStatus.QUEUED.value, 0)


@pytest.mark.parametrize("status", [s for s in LetterStatus if s is not LetterStatus.RENDERING])
def test_only_a_letter_being_rendered_can_fail_its_attempt(status: LetterStatus) -> None:
    letter = _letter(status)
    with pytest.raises(lifecycle.LetterStateError):
        lifecycle.render_failed(letter, error="x", max_attempts=3)
    assert letter.status == status.value


@pytest.mark.parametrize(("attempts", "after"), [(1, LetterStatus.QUEUED), (3, LetterStatus.FAILED)])
def test_a_failed_attempt_queues_the_letter_again_until_the_last(attempts: int, after: LetterStatus) -> None:
    letter = _letter(LetterStatus.RENDERING, reply_code_lookup="ABCDE")
    letter.attempts = attempts
    final = lifecycle.render_failed(letter, error="RuntimeError: x", max_attempts=3)
    assert (final, letter.status, letter.reply_code_lookup) == (after is LetterStatus.FAILED, after.value, None)


def test_a_claim_is_held_only_while_rendering_by_that_job() -> None:
    assert lifecycle.holds_claim(_letter(LetterStatus.RENDERING), "job:1")
    assert not lifecycle.holds_claim(_letter(LetterStatus.RENDERING), "job:2")
    assert not lifecycle.holds_claim(_letter(LetterStatus.RENDERED), "job:1")


@pytest.mark.parametrize("status", [LetterStatus.QUEUED, LetterStatus.RENDERING, LetterStatus.FAILED])
def test_a_letter_without_its_pdf_is_never_sent(status: LetterStatus, wf_engine: Engine) -> None:
    letter = _letter(status)
    with pytest.raises(lifecycle.LetterStateError, match="Alleen een gemaakte brief"):
        lifecycle.sent(None, wf_engine, [letter], at=NOW)  # type: ignore[arg-type]  # refused before any read
    assert letter.status == status.value


@pytest.mark.parametrize("status", [s for s in ReferralStatus if s is not ReferralStatus.FAILED])
def test_only_a_failed_referral_delivery_is_retried(status: ReferralStatus) -> None:
    referral = Referral(status=status.value, attempts=2)
    with pytest.raises(referral_lifecycle.ReferralStateError, match="Alleen een mislukte verwijzing"):
        referral_lifecycle.retry(referral)
    assert (referral.status, referral.attempts) == (status.value, 2)


@pytest.mark.parametrize("status", [s for s in ReferralStatus if s is not ReferralStatus.QUEUED])
def test_only_a_queued_referral_is_delivered_or_cancelled_by_the_job(status: ReferralStatus) -> None:
    referral = Referral(status=status.value, attempts=0)
    with pytest.raises(referral_lifecycle.ReferralStateError):
        referral_lifecycle.start_attempt(referral)
    with pytest.raises(referral_lifecycle.ReferralStateError):
        referral_lifecycle.cancel(referral, "geen toestemming")
    assert (referral.status, referral.attempts) == (status.value, 0)


def test_a_delivery_failure_fails_the_referral_only_on_the_last_attempt() -> None:
    referral = Referral(status=ReferralStatus.QUEUED.value, attempts=0)
    referral_lifecycle.start_attempt(referral)
    referral_lifecycle.delivery_failed(referral, "SMTPError: x", final=False)
    assert (referral.status, referral.attempts) == (ReferralStatus.QUEUED.value, 1)
    referral_lifecycle.delivery_failed(referral, "SMTPError: x", final=True)
    assert referral.status == ReferralStatus.FAILED.value


def _watch(session: Session) -> list[set[int]]:
    """What the outbox would enqueue, per flush."""
    seen: list[set[int]] = []

    @event.listens_for(session, "after_flush")
    def _collect(s: Session, _context: Any) -> None:
        seen.append(lifecycle.entered_queue(s))

    return seen


def test_new_and_retried_letters_enter_the_queue_a_failed_attempt_does_not(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)
    made = [
        Letter(
            case_id=case.id,
            letter_type="L9",
            idempotency_key=f"lifecycle-{i}",
            letter_date=date(2026, 3, 2),
            requested_by="test",
            status=status.value,
            attempts=1,
            claimed_by="job:1",
        )
        for i, status in enumerate((LetterStatus.FAILED, LetterStatus.RENDERING))
    ]
    session.add_all(made)
    session.flush()
    failed, rendering = made
    seen = _watch(session)

    lifecycle.retry(failed)
    lifecycle.render_failed(rendering, error="RuntimeError: x", max_attempts=3)  # RQ retries its own job
    session.flush()
    assert seen == [{failed.id}]

    new = Letter(case_id=case.id, letter_type="L10", idempotency_key="lifecycle-new", letter_date=date(2026, 3, 2),
                 requested_by="test")  # fmt: skip
    session.add(new)
    session.flush()
    assert seen[-1] == {new.id}


class _Queue:
    """Records what is enqueued, as a JobQueue would take it."""

    mode = "test"

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None]] = []

    def enqueue(self, func: Any, *args: Any, queue: str = "default", job_id: str | None = None, **_: Any) -> bool:
        self.jobs.append((func.__name__, args, job_id))
        return True


def test_a_persons_retry_reaches_the_queue_after_commit_as_a_new_letter_does(
    committed: sessionmaker[Session], wf_engine: Engine
) -> None:
    from integrations.letters import dispatch
    from schulden.letters.services import retry_letter
    from schulden.organisations.models import Organisation, OrganisationKind

    queue = _Queue()
    dispatch.install(committed, queue)  # type: ignore[arg-type]
    with committed() as s:
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Team")
        s.add(team)
        s.flush()
        case = make_case(s, wf_engine)
        case.team_id = team.id
        letter = Letter(
            case_id=case.id,
            letter_type="L9",
            idempotency_key="lifecycle-retry",
            attempts=3,
            letter_date=date(2026, 3, 2),
            requested_by="test",
            status=LetterStatus.FAILED.value,
        )
        s.add(letter)
        s.commit()
        counsellor = UserActor(user_id=1, role=Role.COUNSELLOR, organisation_id=team.id)
        queue.jobs.clear()  # whatever the case's own steps asked for

        with pytest.raises(NotPermitted):
            retry_letter(s, UserActor(user_id=2, role=Role.PI_STAFF, organisation_id=case.pi_id), letter.id)
        retry_letter(s, counsellor, letter.id)
        assert queue.jobs == []  # not before the commit
        s.commit()

    assert queue.jobs == [("render_letters", ([letter.id],), f"render-letter-{letter.id}")]
    with committed() as s:
        assert (s.get_one(Letter, letter.id).status, s.get_one(Letter, letter.id).attempts) == ("queued", 0)
        with pytest.raises(lifecycle.LetterStateError):  # a second retry of the queued letter: refused
            retry_letter(s, counsellor, letter.id)


def test_a_referral_retry_reaches_the_queue_after_commit_as_a_new_referral_does(
    committed: sessionmaker[Session], wf_engine: Engine
) -> None:
    from integrations.referrals import delivery
    from schulden.organisations.models import Organisation, OrganisationKind
    from schulden.referrals.services import retry_delivery

    queue = _Queue()
    delivery.install(committed, queue)  # type: ignore[arg-type]
    with committed() as s:
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Team")
        s.add(team)
        s.flush()
        case = make_case(s, wf_engine)
        case.team_id = team.id
        assert case.municipality_id is not None
        referral = Referral(
            case_id=case.id,
            sequence=1,
            municipality_id=case.municipality_id,
            channel="email",
            status=ReferralStatus.FAILED.value,
            attempts=3,
            referred_at=NOW,
            created_by="test",
        )
        s.add(referral)
        s.commit()
        queue.jobs.clear()
        counsellor = UserActor(user_id=1, role=Role.COUNSELLOR, organisation_id=team.id)

        retry_delivery(s, counsellor, referral.id)
        assert queue.jobs == []  # not before the commit
        s.commit()

    assert queue.jobs == [("deliver_referral", (referral.id,), f"deliver-referral-{referral.id}")]
    with committed() as s:
        again = s.get_one(Referral, referral.id)
        assert (again.status, again.attempts) == ("queued", 0)
