"""Mijn werk: the start page after login for every role, the user's tasks from `schulden.worklist.tasks_for`
grouped by kind, each with a link to where it is done (`task_link`, from the task's `place`).

The list is the API's GET /api/v1/tasks (`schulden.worklist.list_tasks`: same query, same scope, same audit row);
the page only groups it. Groups holding an urgent task come first, and within a group the order of `tasks_for` is kept
(urgent, then the earliest deadline). A letter the counsellor delivers through the creditor's own channel is marked
sent from here ("Verstuurd via eigen kanaal": `worklist.mark_sent_manually`, as the API's
POST /api/v1/letters/<id>/sent-manually).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from schulden.errors import NotFound
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.lifecycle import LetterStateError
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required, roles_required
from schulden.web.filters import datum
from schulden.worklist import LIMIT, Task, list_tasks, mark_sent_manually

blp = Blueprint("home", __name__)

#: The heading of each kind of task, in the order shown when urgency does not decide.
KINDS: dict[str, str] = {
    "refer_now": "Nu verwijzen",
    "referral_failed": "Verwijzingen die niet konden worden afgeleverd",
    "wgs_breach": "Termijn eerste gesprek (Wgs) overschreden",
    "referral_due": "Verwijzingen te versturen",
    "release_near": "Vrijlating binnen 6 weken zonder verwijzing",
    "letter_failed": "Brieven die niet gemaakt of verstuurd konden worden",
    "admin_letter_failed": "Brieven die niet gemaakt konden worden",
    "admin_delivery": "Verwijzingen die niet bij de gemeente aankwamen",
    "reply_to_review": "Antwoorden van schuldeisers te lezen",
    "referral_to_decide": "Verwijzingen te beoordelen",
    "first_conversation": "Eerste gesprekken",
    "consent_awaited": "Wachten op de handtekening van de gedetineerde",
    "print_batch": "Brieven voor de printbatch",
    "due_today": "Termijnen die vandaag verlopen",
    "ready_to_refer": "Klaar om te verwijzen",
    "answer_overdue": "Antwoorden van schuldeisers te laat",
    "send_manually": "Brieven om zelf te versturen",
    "screening_due": "Screening afronden (10 werkdagen)",
    "dr_plan_due": "D&R-plan vaststellen (1 maand)",
    "creditor_proposal": "Voorgestelde wijzigingen van schuldeisers",
    "followed": "Dossiers die u volgt",
}
#: What a task's date means, per kind, where it is not a deadline ("Uiterlijk").
DUE_LABELS: dict[str, str] = {
    "release_near": "Vrijlating",
    "followed": "Verwachte vrijlating",
    "first_conversation": "Eerste gesprek",
    "ready_to_refer": "Verwachte vrijlating",
    "send_manually": "Briefdatum",
}


@dataclass
class TaskGroup:
    kind: str
    title: str
    tasks: list[Task] = field(default_factory=list)

    @property
    def urgent(self) -> int:
        return sum(1 for task in self.tasks if task.urgent)

    @property
    def maybe_more(self) -> bool:
        """The list stops at `worklist.LIMIT` a kind: there may be more than it shows."""
        return len(self.tasks) >= LIMIT


def group_tasks(tasks: list[Task]) -> list[TaskGroup]:
    """Tasks per kind; groups with urgent tasks first, then the fixed order of KINDS (unknown kinds last)."""
    groups: dict[str, TaskGroup] = {}
    for task in tasks:
        group = groups.get(task.kind)
        if group is None:
            group = groups[task.kind] = TaskGroup(task.kind, KINDS.get(task.kind, task.title))
        group.tasks.append(task)
    order = list(KINDS)
    return sorted(
        groups.values(),
        key=lambda g: (g.urgent == 0, order.index(g.kind) if g.kind in order else len(order)),
    )


def task_when(task: Task, today: date) -> str:
    """Since when the task waits and until when it runs, in one line ("Sinds 1 december 2026; uiterlijk 15
    december 2026"); a deadline that passed says so."""
    parts = [f"sinds {datum(task.since)}"] if task.since else []
    if task.due_on:
        label = DUE_LABELS.get(task.kind)
        passed = " (verstreken)" if label is None and task.due_on < today else ""
        parts.append(f"{(label or 'uiterlijk').lower()} {datum(task.due_on)}{passed}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def task_link(task: Task) -> tuple[str, str]:
    """The address where the task is done and the words of its link (the task's `place`)."""
    case_id = task.case_id or 0
    match task.place:
        case "reply":
            return url_for("antwoorden.show", case_id=case_id, reply_id=task.object_id), "Antwoord lezen"
        case "consent":
            return url_for("intake.consent", case_id=case_id), "Toestemming vastleggen"
        case "print_batch":
            return url_for("printbatch.index"), "Naar de printbatch"
        case "referral_page":
            return url_for("verwijzing.form", case_id=case_id), "Naar de verwijzing"
        case "referral_decision":
            return url_for("gemeente.referral", referral_id=task.object_id), "Verwijzing beoordelen"
        case "creditor":
            return url_for("beheer.creditor", creditor_id=task.place_key), "Schuldeiser nakijken"
        case "letter_text":
            return url_for("letter_texts.show", letter_type=task.place_key), "Brieftekst nakijken"
        case "delivery":
            return url_for("gemeenten_beheer.municipality", municipality_id=task.place_key), "Aflevering instellen"
        case _:
            return url_for("dossiers.detail", case_id=case_id), "Dossier openen"


@blp.get("/")
@login_required
def index() -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    engine = runtime().engine
    today = engine.today()
    tasks = list_tasks(
        session, actor, today=today, origin=request.remote_addr, calendar=engine.calendar, now=engine.clock()
    )
    session.commit()
    return render_template(
        "home.html",
        groups=group_tasks(tasks),
        task_count=len(tasks),
        today=today,
        task_link=task_link,
        task_when=task_when,
        sees_cases=actor.role is not Role.ADMIN,
    )


@blp.post("/taken/brieven/<int:letter_id>/verstuurd")
@roles_required(Role.COUNSELLOR)
def sent_manually(letter_id: int) -> ResponseReturnValue:
    """ "Verstuurd via eigen kanaal": the counsellor delivered the letter through the creditor's own channel."""
    session = db_session()
    try:
        letter = mark_sent_manually(session, runtime().engine, current_actor(), letter_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except LetterStateError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("home.index"), 303)
    session.commit()
    flash(f"Brief {letter.id} is vastgelegd als verstuurd via het eigen kanaal van de schuldeiser.", "ok")
    return redirect(url_for("home.index"), 303)
