"""Mijn werk: the start page after login, the user's tasks from `schulden.worklist.tasks_for` grouped by kind.

The list is the API's GET /api/v1/tasks (`schulden.worklist.list_tasks`: same query, same scope, same audit row);
the page only groups it. Groups holding an urgent task come first, and within a group the order of `tasks_for` is kept
(urgent, then the earliest deadline). A letter the counsellor delivers through the creditor's own channel is marked
sent from here ("Verstuurd via eigen kanaal": `worklist.mark_sent_manually`, as the API's
POST /api/v1/letters/<id>/sent-manually).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from schulden.errors import NotFound
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.lifecycle import LetterStateError
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required, roles_required
from schulden.worklist import Task, list_tasks, mark_sent_manually

blp = Blueprint("home", __name__)

#: The heading of each kind of task, in the order shown when urgency does not decide.
KINDS: dict[str, str] = {
    "refer_now": "Nu verwijzen",
    "referral_failed": "Verwijzingen die niet konden worden afgeleverd",
    "wgs_breach": "Termijn eerste gesprek (Wgs) overschreden",
    "referral_due": "Verwijzingen te versturen",
    "release_near": "Vrijlating binnen 6 weken zonder verwijzing",
    "letter_failed": "Brieven die niet gemaakt of verstuurd konden worden",
    "send_manually": "Brieven om zelf te versturen",
    "referral_to_decide": "Verwijzingen te beoordelen",
    "due_today": "Termijnen die vandaag verlopen",
    "answer_overdue": "Antwoorden van schuldeisers te laat",
    "reply_to_review": "Antwoorden van schuldeisers te lezen",
    "screening_due": "Screening afronden (10 werkdagen)",
    "dr_plan_due": "D&R-plan vaststellen (1 maand)",
}


@dataclass
class TaskGroup:
    kind: str
    title: str
    tasks: list[Task] = field(default_factory=list)

    @property
    def urgent(self) -> int:
        return sum(1 for task in self.tasks if task.urgent)


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


@blp.get("/")
@login_required
def index() -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    engine = runtime().engine
    today = engine.today()
    tasks = list_tasks(session, actor, today=today, origin=request.remote_addr, calendar=engine.calendar)
    session.commit()
    return render_template("home.html", groups=group_tasks(tasks), task_count=len(tasks), today=today)


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
