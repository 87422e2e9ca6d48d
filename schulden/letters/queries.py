"""Reads of letters and print batches for both front doors, always within the actor's scope. A read a person makes
of a case's letters writes its audit row (NEN 7513) in the caller's transaction; nothing here commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope, may_act_for_pi
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.errors import NotFound
from schulden.letters.models import Channel, Letter, LetterStatus, PrintBatch
from schulden.organisations.models import Organisation, OrganisationKind


def scoped_letter(session: Session, actor: UserActor, letter_id: int) -> Letter:
    """The letter if its case is in the actor's scope; NotFound otherwise (absent and out of scope alike)."""
    letter: Letter | None = session.scalar(
        select(Letter).join(Case, Case.id == Letter.case_id).where(Letter.id == letter_id, case_scope(actor))
    )
    if letter is None:
        raise NotFound("letter", letter_id)
    return letter


def read_letters(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> list[Letter]:
    """GET /cases/{id}/letters and the case page: the letters of a case the caller holds under the actor's scope,
    in the order asked for, with the `letter.list` row. Does not commit."""
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    audit.record(session, actor=actor, action="letter.list", object_type="case", object_id=case.id, case_id=case.id,
                 origin=origin)  # fmt: skip
    return letters


def failed_letters(session: Session, actor: UserActor, *, limit: int = 200) -> list[Letter]:
    """Letters that could not be made, in the actor's scope: the counsellor's list to look at."""
    return list(
        session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .where(Letter.status == LetterStatus.FAILED.value, case_scope(actor))
            .order_by(Letter.id)
            .limit(limit)
        )
    )


def pending_post(session: Session, pi_id: int, *, lock: bool = False) -> list[Letter]:
    """Rendered letters for the post of cases in this PI, not yet in a batch, oldest first."""
    query = (
        select(Letter)
        .join(Case, Case.id == Letter.case_id)
        .where(
            Case.pi_id == pi_id,
            Letter.status == LetterStatus.RENDERED.value,
            Letter.channel == Channel.POST.value,
            Letter.print_batch_id.is_(None),
        )
        .order_by(Letter.id)
    )
    if lock:
        # Two people pressing "print batch" at once: the second waits and then finds nothing left to print.
        query = query.with_for_update(of=Letter)
    return list(session.scalars(query))


def pis_for(session: Session, actor: UserActor) -> list[Organisation]:
    """The PIs whose post this user handles (`access.may_act_for_pi`), by name."""
    pis = session.scalars(
        select(Organisation).where(Organisation.kind == OrganisationKind.PI.value).order_by(Organisation.name)
    )
    return [pi for pi in pis if may_act_for_pi(actor, pi)]


def recent_batches(session: Session, pi_id: int, *, limit: int = 30) -> list[PrintBatch]:
    return list(
        session.scalars(select(PrintBatch).where(PrintBatch.pi_id == pi_id).order_by(PrintBatch.id.desc()).limit(limit))
    )
