"""A creditor's decision from the reply page to the debt, as the people involved see it (issue 13 item 8): the
creditor answers our payment proposal or termination online; the counsellor reads the decision in words on the
answer page, opens the check page and records the step, after which the debt is 'Regeling akkoord' (or afgewezen,
or 'Opgezegd') and its history names the answer. A step on a debt in another state is a Dutch message, never a 500.
The insurer (L6) and a benefit office (L7) answer their notices online too; the counsellor finds those answers on
the case page and in Mijn werk, marks them read, and may add an office's reclaim as a debt. The API gives the same.

On the fast demo world: Demir's fine is brought to 'Regeling voorgesteld' and her rent to 'Opzegging gevraagd' in
the database (no job starts); their new letters, and her notices to the insurer and Toeslagen, get reply secrets
the test knows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from tests.conftest import actor
from tests.demo_world import DemoWorld
from tests.web.reply_support import open_with_link, submit
from tests.web.test_foundation import csrf_of
from workflows import SYSTEM, HistoryEntry, WorkflowInstance
from workflows.store import utcnow

COUNSELLOR = "schuldhulp.demo"
ENGINE_COUNSELLOR = actor(Role.COUNSELLOR.value, "user:test-counsellor")
PROPOSAL = {"monthly_cents": 1_250, "months": 20, "start_date": "2027-02-01", "basis": "inkomen tijdens detentie"}


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True)).replace("\xa0", " ")


@dataclass
class Demir:
    demo: DemoWorld
    case_id: int
    fine_id: int
    rent_id: int
    #: letter type -> (letter id, QR token)
    letters: dict[str, tuple[int, str]]

    def answer(self, kind: str, answer: dict[str, Any]) -> CreditorReply:
        """The creditor opens the letter's QR link, fills the form, checks and sends it: the stored answer."""
        client = self.demo.app.test_client()
        open_with_link(client, self.letters[kind][1])
        sent = submit(client, answer)
        assert sent.status_code == 303, text(sent)[:3000]
        assert sent.headers["Location"].endswith("/antwoord/bedankt")
        with self.demo.db() as s:
            reply = s.scalars(
                select(CreditorReply)
                .where(CreditorReply.letter_id == self.letters[kind][0])
                .order_by(CreditorReply.id.desc())
            ).first()
            assert reply is not None
            s.expunge(reply)
            return reply

    def state(self, debt_id: int) -> str:
        with self.demo.db() as s:
            return s.get_one(WorkflowInstance, s.get_one(Debt, debt_id).instance_id).state

    def last_step(self, debt_id: int) -> HistoryEntry:
        with self.demo.db() as s:
            debt = s.get_one(Debt, debt_id)
            entry = s.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.instance_id == debt.instance_id)
                .order_by(HistoryEntry.seq.desc())
            ).first()
            assert entry is not None
            s.expunge(entry)
            return entry

    def page(self, reply_id: int) -> str:
        return f"/dossiers/{self.case_id}/antwoorden/{reply_id}"


def _answerable(letter: Letter) -> str:
    """Mark the letter sent with reply secrets the test knows (no PDF is rendered: the page only links to it)."""
    known = new_reply_secrets(ReplyCodeKey.derive("only the link is used here"))  # the typed code is not
    letter.status = LetterStatus.SENT.value
    letter.storage_key, letter.sha256 = f"letters/test-{letter.id}.pdf", "0" * 64
    letter.reply_code_lookup, letter.reply_code_hash = known.lookup, known.code_hash
    letter.reply_token_hash = known.token_hash
    letter.reply_expires_at = utcnow() + timedelta(days=30)
    return known.token


@pytest.fixture
def demir(demo_world: DemoWorld) -> Demir:
    case_id = demo_world.case_id("Demir")
    letters: dict[str, tuple[int, str]] = {}
    with demo_world.db() as s:
        engine = demo_world.runtime.engine
        debts = {d.debt_type: d for d in s.scalars(select(Debt).where(Debt.case_id == case_id))}
        fine, rent = debts["cjib_boete"], debts["huur"]
        for debt in (fine, rent):
            # Committed, the letters went out already (the in-process queue sent them).
            if s.get_one(WorkflowInstance, debt.instance_id).state == "letters_requested":
                fire_debt_event(s, engine, debt, "letters_sent", actor=SYSTEM)
        fire_debt_event(s, engine, fine, "confirm_balance", actor=ENGINE_COUNSELLOR)
        fire_debt_event(s, engine, fine, "propose_arrangement", actor=ENGINE_COUNSELLOR, payload=PROPOSAL)
        fire_debt_event(s, engine, rent, "request_termination", actor=ENGINE_COUNSELLOR)
        s.flush()
        for letter in s.scalars(select(Letter).where(Letter.case_id == case_id).order_by(Letter.id)):
            kind = letter.letter_type
            if kind in ("L4", "L5") or (kind == "L6" and letter.debt_id is None):
                letters[kind] = (letter.id, _answerable(letter))
            elif kind == "L7" and letter.creditor_id is not None and "L7" not in letters:
                letters["L7"] = (letter.id, _answerable(letter))
        s.commit()
        ids = (fine.id, rent.id)
    assert set(letters) == {"L4", "L5", "L6", "L7"}, letters
    return Demir(demo_world, case_id, ids[0], ids[1], letters)


def _record(client: FlaskClient, demir: Demir, reply_id: int, slug: str, **form: str) -> Any:
    """The counsellor opens the check page of the step and presses its button."""
    path = f"{demir.page(reply_id)}/besluit/{slug}"
    check = client.get(path)
    assert check.status_code == 200, text(check)[:2000]
    return client.post(path, data={"confirm": "1", "csrf_token": csrf_of(client, path), **form})


# -- payment proposal (L4) ----------------------------------------------------------------------------------------


def test_an_accepted_proposal_is_read_in_words_checked_and_recorded_on_the_debt(demir: Demir) -> None:
    reply = demir.answer("L4", {"arrangement_decision": "accept", "note": "Graag per maand betalen."})
    assert (reply.arrangement_decision, reply.note) == ("accept", "Graag per maand betalen.")
    assert demir.state(demir.fine_id) == "arrangement_proposed"  # the creditor's word moves nothing yet

    client = demir.demo.client(COUNSELLOR)
    page = text(client.get(demir.page(reply.id)))
    assert "De schuldeiser gaat akkoord met de regeling van € 12,50 per maand" in page
    assert "Graag per maand betalen." in page
    assert f'href="{demir.page(reply.id)}/besluit/akkoord"' in page
    assert "Regeling akkoord vastleggen" in page
    case_page = text(client.get(f"/dossiers/{demir.case_id}"))
    assert "besluit nog vastleggen" in case_page

    check = text(client.get(f"{demir.page(reply.id)}/besluit/akkoord"))
    assert "Controleer voordat u vastlegt" in check
    assert "De schuld gaat van 'Regeling voorgesteld' naar 'Regeling akkoord'." in check
    assert "Het antwoord telt als gelezen." in check
    assert demir.state(demir.fine_id) == "arrangement_proposed"  # the check page changes nothing
    done = _record(client, demir, reply.id, "akkoord")

    assert done.status_code == 303
    assert done.headers["Location"].endswith(demir.page(reply.id))
    assert demir.state(demir.fine_id) == "arrangement_agreed"
    step = demir.last_step(demir.fine_id)
    assert (step.event, step.payload) == ("agree_arrangement", {"reply_id": reply.id, "monthly_cents": 1_250})
    after = text(client.get(demir.page(reply.id)))
    assert "Vastgelegd: de schuld bij" in after
    assert "staat nu op 'Regeling akkoord'" in after
    assert "Status van dit antwoord: <strong>Gelezen</strong>" in after
    assert "Regeling akkoord vastleggen" not in after  # once
    assert [row.object_id for row in demir.demo.audit("reply.decision")] == [str(reply.id)]


def test_a_refused_proposal_shows_the_reason_and_is_recorded_as_rejected(demir: Demir) -> None:
    reply = demir.answer("L4", {"arrangement_decision": "refuse", "arrangement_reason": "Te laag bedrag."})
    client = demir.demo.client(COUNSELLOR)

    assert "Niet akkoord: Te laag bedrag." in text(client.get(demir.page(reply.id)))
    done = _record(client, demir, reply.id, "afwijzen")

    assert done.status_code == 303
    assert demir.state(demir.fine_id) == "arrangement_rejected"
    step = demir.last_step(demir.fine_id)
    assert (step.event, step.payload, step.reason) == ("reject_arrangement", {"reply_id": reply.id}, "Te laag bedrag.")
    assert "staat nu op 'Regeling afgewezen'" in text(client.get(demir.page(reply.id)))


def test_a_counter_proposal_shows_its_amounts_and_can_be_agreed(demir: Demir) -> None:
    reply = demir.answer("L4", {"arrangement_decision": "counter", "arrangement_monthly_cents": "25,00",
                                "arrangement_terms": "Vanaf de vrijlating.", "interest_suspended": "ja"})  # fmt: skip
    client = demir.demo.client(COUNSELLOR)
    page = text(client.get(demir.page(reply.id)))
    assert "De schuldeiser doet een ander voorstel: € 25,00 per maand." in page
    assert "Vanaf de vrijlating." in page
    assert "Tegenvoorstel aannemen" in page
    assert "Opnieuw voorstellen" in page
    # "Opnieuw voorstellen" asks the new plan first, starting from the last proposal, and checks it.
    again = text(client.get(f"{demir.page(reply.id)}/besluit/opnieuw-voorstellen"))
    assert 'value="12,50"' in again
    assert 'value="20"' in again
    wrong = client.post(f"{demir.page(reply.id)}/besluit/opnieuw-voorstellen", data={
        "plan_monthly_cents": "veel", "plan_months": "200", "plan_basis": "",
        "csrf_token": csrf_of(client, f"{demir.page(reply.id)}/besluit/opnieuw-voorstellen")})  # fmt: skip
    assert wrong.status_code == 422
    assert "Vul het aantal termijnen in als een getal van 1 tot 120." in text(wrong)
    assert demir.state(demir.fine_id) == "arrangement_proposed"

    done = _record(client, demir, reply.id, "akkoord")

    assert done.status_code == 303
    assert demir.state(demir.fine_id) == "arrangement_agreed"
    assert demir.last_step(demir.fine_id).payload == {"reply_id": reply.id, "monthly_cents": 2_500}


def test_a_step_on_a_debt_in_another_state_is_a_dutch_message_not_an_error(demir: Demir) -> None:
    reply = demir.answer("L4", {"arrangement_decision": "accept"})
    client = demir.demo.client(COUNSELLOR)
    path = f"{demir.page(reply.id)}/besluit/akkoord"
    token = csrf_of(client, path)
    # Meanwhile the debt moved on (a colleague recorded the agreement after a phone call).
    with demir.demo.db() as s:
        debt = s.get_one(Debt, demir.fine_id)
        fire_debt_event(s, demir.demo.runtime.engine, debt, "agree_arrangement", actor=ENGINE_COUNSELLOR)
        s.commit()

    refused = client.post(path, data={"confirm": "1", "csrf_token": token})

    assert refused.status_code == 409
    body = text(refused)
    assert "Het besluit over de regeling kan niet worden vastgelegd: de schuld staat op 'Regeling akkoord', niet op " \
           "'Regeling voorgesteld'." in body  # fmt: skip
    assert "<title>Fout: " in body
    page = text(client.get(demir.page(reply.id)))
    assert "de schuld staat op 'Regeling akkoord', niet op 'Regeling voorgesteld'" in page  # next to the step
    assert f'href="{path}"' not in page  # the step is not offered
    moved = client.get(path)
    assert moved.status_code == 303
    assert "niet op 'Regeling voorgesteld'" in text(client.get(moved.headers["Location"]))
    # Nothing of the refused step was written.
    assert demir.demo.audit("reply.decision") == []


# -- termination (L5) -----------------------------------------------------------------------------------------------


def test_a_confirmed_termination_is_read_as_its_date_and_recorded(demir: Demir) -> None:
    reply = demir.answer("L5", {"termination_confirmed": "ja", "termination_date-dag": "1",
                                "termination_date-maand": "1", "termination_date-jaar": "2027",
                                "note": "Modem graag retour sturen."})  # fmt: skip
    client = demir.demo.client(COUNSELLOR)
    page = text(client.get(demir.page(reply.id)))
    assert "Opzegging bevestigd per 1 januari 2027" in page
    assert "Modem graag retour sturen." in page

    done = _record(client, demir, reply.id, "opzegging-bevestigd")

    assert done.status_code == 303
    assert demir.state(demir.rent_id) == "terminated"
    step = demir.last_step(demir.rent_id)
    assert (step.event, step.payload) == (
        "confirm_termination", {"reply_id": reply.id, "termination_date": "2027-01-01"})  # fmt: skip
    assert "staat nu op 'Opgezegd'" in text(client.get(demir.page(reply.id)))


# -- the notices about the case (L6, L7) ------------------------------------------------------------------------------


def test_the_insurer_confirms_the_suspension_online_and_the_counsellor_reads_it(demir: Demir) -> None:
    start = demir.demo.today - timedelta(days=3)
    reply = demir.answer("L6", {"insurance_suspended": "ja", "insurance_suspended_from-dag": str(start.day),
                                "insurance_suspended_from-maand": str(start.month),
                                "insurance_suspended_from-jaar": str(start.year)})  # fmt: skip
    assert (reply.debt_id, reply.insurance_suspended, reply.insurance_suspended_from) == (None, True, start)

    client = demir.demo.client(COUNSELLOR)
    # Mijn werk lists it to read, and so does the case page, under the insurer's name.
    work = text(client.get("/"))
    assert f'href="{demir.page(reply.id)}"' in work
    case_page = text(client.get(f"/dossiers/{demir.case_id}"))
    assert f'href="{demir.page(reply.id)}">Zorg en Zekerheid' in case_page
    page = text(client.get(demir.page(reply.id)))
    assert "De zorgverzekeraar bevestigt de schorsing van de basisverzekering per" in page
    assert 'id="bedragen-kop"' not in page  # only what the letter asked
    done = client.post(f"{demir.page(reply.id)}/gelezen", data={"csrf_token": csrf_of(client, demir.page(reply.id))})
    assert done.status_code == 303
    assert "Status van dit antwoord: <strong>Gelezen</strong>" in text(client.get(demir.page(reply.id)))
    assert f'href="{demir.page(reply.id)}"' not in text(client.get("/"))


def test_a_benefit_office_confirms_online_and_its_reclaim_becomes_a_debt(demir: Demir) -> None:
    creditor_form = demir.demo.app.test_client()
    open_with_link(creditor_form, demir.letters["L7"][1])
    form = text(creditor_form.get("/antwoord/brief"))
    assert 'name="change_confirmed"' in form
    assert 'name="reclaim_cents"' in form
    assert 'name="principal_cents"' not in form
    reply = demir.answer("L7", {"change_confirmed": "ja", "reclaim_cents": "450,00", "note": "Zorgtoeslag maart."})
    assert (reply.change_confirmed, reply.reclaim_cents) == (True, 45_000)

    client = demir.demo.client(COUNSELLOR)
    page = text(client.get(demir.page(reply.id)))
    assert "De instantie heeft de wijziging verwerkt. Zij vordert € 450,00 terug." in page
    check = text(client.get(f"{demir.page(reply.id)}/terugvordering"))
    assert "Controleer de terugvordering" in check
    path = f"{demir.page(reply.id)}/terugvordering"
    done = client.post(path, data={"confirm": "1", "csrf_token": csrf_of(client, path)})

    assert done.status_code == 303
    assert "De terugvordering van € 450,00 staat nu als schuld in het dossier." in text(
        client.get(demir.page(reply.id))
    )
    with demir.demo.db() as s:
        added = s.scalars(select(Debt).where(Debt.case_id == demir.case_id, Debt.source == "creditor")).one()
        assert (added.principal_cents, added.amount_status, added.debt_type) == (45_000, "confirmed", "toeslagen")
    again = client.post(path, data={"confirm": "1", "csrf_token": csrf_of(client, demir.page(reply.id))})
    assert again.status_code == 409
    assert "staat al als schuld in het dossier" in text(again)


# -- the API --------------------------------------------------------------------------------------------------------


def test_the_api_gives_the_decision_and_records_its_step(demir: Demir) -> None:
    reply = demir.answer("L4", {"arrangement_decision": "refuse", "arrangement_reason": "Te laag bedrag."})
    http, bearer = demir.demo.http, demir.demo.token(COUNSELLOR)

    shown = http.get(f"/api/v1/replies/{reply.id}", headers=bearer).json
    assert shown is not None
    assert (shown["arrangement_decision"], shown["arrangement_reason"], shown["note"]) == (
        "refuse", "Te laag bedrag.", None)  # fmt: skip
    assert (shown["decision_steps"], shown["decision_steps_possible"], shown["decision_text"]) == (
        ["reject"], ["reject"], "Niet akkoord: Te laag bedrag.")  # fmt: skip
    wrong = http.post(f"/api/v1/replies/{reply.id}/decision", json={"step": "agree"}, headers=bearer)
    assert wrong.status_code == 409
    assert wrong.json is not None
    assert "vraagt niet om" in wrong.json["detail"]
    bad = http.post(f"/api/v1/replies/{reply.id}/decision", json={"step": "agree", "proposal": None,
                                                                  "extra": 1}, headers=bearer)  # fmt: skip
    assert bad.status_code == 422

    done = http.post(f"/api/v1/replies/{reply.id}/decision", json={"step": "reject"}, headers=bearer)

    assert done.status_code == 200, done.json
    assert done.json is not None
    assert (done.json["decision_taken"], done.json["review_status"]) == ("reject_arrangement", "read")
    assert "ETag" in done.headers
    assert demir.state(demir.fine_id) == "arrangement_rejected"
    twice = http.post(f"/api/v1/replies/{reply.id}/decision", json={"step": "reject"}, headers=bearer)
    assert twice.status_code == 409
    assert twice.json is not None
    assert twice.json["detail"] == "Het besluit van dit antwoord is al vastgelegd."


@pytest.mark.usefixtures("committed")
def test_a_counter_proposal_is_answered_with_a_new_proposal_and_its_letter(demir: Demir) -> None:
    """Committed: the new proposal asks for a new letter, which a job renders."""
    reply = demir.answer("L4", {"arrangement_decision": "counter", "arrangement_monthly_cents": "25,00"})
    client = demir.demo.client(COUNSELLOR)
    path = f"{demir.page(reply.id)}/besluit/opnieuw-voorstellen"
    plan = {
        "plan_monthly_cents": "18,00",
        "plan_months": "24",
        "plan_start_date-dag": "1",
        "plan_start_date-maand": "6",
        "plan_start_date-jaar": "2027",
        "plan_basis": "Inkomen na vrijlating",
    }
    check = client.post(path, data={**plan, "csrf_token": csrf_of(client, path)})
    assert check.status_code == 200
    assert "€ 18,00" in text(check)
    assert "Er wordt een nieuwe brief 'Voorstel betalingsregeling' met dit voorstel klaargezet" in text(check)

    done = client.post(path, data={**plan, "confirm": "1", "csrf_token": csrf_of(client, path)})

    assert done.status_code == 303, text(done)[:2000]
    assert demir.state(demir.fine_id) == "arrangement_proposed"
    step = demir.last_step(demir.fine_id)
    assert (step.event, step.payload["monthly_cents"], step.payload["reply_id"]) == (
        "propose_arrangement", 1_800, reply.id)  # fmt: skip
    with demir.demo.db() as s:
        proposals = s.scalars(select(Letter).where(Letter.debt_id == demir.fine_id, Letter.letter_type == "L4")).all()
        assert len(proposals) == 2
