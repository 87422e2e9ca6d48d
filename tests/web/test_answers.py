"""A creditor's answer for the counsellor (issue 13 item 1), through the Flask test client on the demo world:
the answer page with everything the creditor said, "Gelezen", "Bedragen overnemen" behind its check page, the
case page's list, a paper answer typed in with its check page, the attachment, and the scope of every page."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.replies.models import CreditorReply
from schulden.replies.services import StoredAttachment, submit_answer
from tests.demo_world import DemoWorld
from tests.web.test_foundation import csrf_of
from tests.web.test_reply_uploads import make_pdf
from workflows import WorkflowInstance

COUNSELLOR = "schuldhulp.demo"


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _rent(world: DemoWorld) -> tuple[int, int, int]:
    """Demir's rent debt (written to, letter queued): case id, debt id, its first letter's id."""
    case_id = world.case_id("Demir")
    with world.db() as s:
        debt = s.scalars(select(Debt).where(Debt.case_id == case_id, Debt.debt_type == "huur")).one()
        letter_id = s.scalars(select(Letter.id).where(Letter.debt_id == debt.id).order_by(Letter.id)).first()
        assert letter_id is not None
        return case_id, debt.id, letter_id


def _landlord(world: DemoWorld, debt_id: int) -> str:
    with world.db() as s:
        name = s.scalar(select(Creditor.name).join(Debt, Debt.creditor_id == Creditor.id).where(Debt.id == debt_id))
        assert name
        return name


def _debt(world: DemoWorld, debt_id: int) -> tuple[Debt, str]:
    with world.db() as s:
        debt = s.get_one(Debt, debt_id)
        state = s.get_one(WorkflowInstance, debt.instance_id).state
        s.expunge(debt)
        return debt, state


ANSWER = {
    "principal_cents": 190_000,
    "interest_cents": 1_250,
    "costs_cents": 4_000,
    "collection_suspended": True,
    "contact_name": "Mevrouw Jansen",
    "contact_phone": "038 123 45 67",
    "contact_email": "incasso@woning.example",
    "creditor_customer_number": "K-778",
    "note": "Huur tot en met november.",
}


def _creditor_answers(world: DemoWorld, letter_id: int, *, pdf: bytes | None = None, **changes: Any) -> int:
    """The creditor answers on the reply page (its service, as the page calls it); the answer's id."""
    rt = world.runtime
    attachment = None
    if pdf is not None:
        rt.store.put("replies/test/bijlage.pdf", pdf)
        attachment = StoredAttachment("replies/test/bijlage.pdf", "brief huur.pdf", "0" * 64, len(pdf))
    with world.db() as s:
        letter = s.get_one(Letter, letter_id)
        data = {**ANSWER, "peildatum": world.today - timedelta(days=2), **changes}
        reply = submit_answer(s, rt.engine, letter=letter, data=data, attachment=attachment, origin=None)
        s.commit()
        return reply.id


# --- a creditor's answer waits for the counsellor -------------------------------------------------------------------


def test_a_creditors_amounts_wait_until_the_counsellor_takes_them_over(world: DemoWorld) -> None:
    case_id, debt_id, letter_id = _rent(world)
    reply_id = _creditor_answers(world, letter_id)

    # The debt keeps its estimate: the creditor's word is not yet the debt's.
    debt, state = _debt(world, debt_id)
    assert (debt.total_cents, debt.amount_status, state) == (186_550, "estimated", "answer_received")

    client = world.client(COUNSELLOR)
    case_page = text(client.get(f"/dossiers/{case_id}"))
    assert "Antwoorden van schuldeisers" in case_page
    assert "Antwoord ontvangen, te controleren" in case_page
    assert f'href="/dossiers/{case_id}/antwoorden/{reply_id}"' in case_page
    assert "Nieuw" in case_page
    assert "€\xa01.952,50" in case_page

    page = client.get(f"/dossiers/{case_id}/antwoorden/{reply_id}")
    assert page.status_code == 200
    body = text(page)
    for shown in (_landlord(world, debt_id), "€\xa01.900,00", "€\xa012,50", "€\xa040,00", "€\xa01.952,50",
                  "Mevrouw Jansen", "038 123 45 67", "incasso@woning.example", "K-778", "Huur tot en met november.",
                  "Melding detentie, verzoek opschorting incasso en saldo-opgave", "Antwoordpagina"):  # fmt: skip
        assert shown in body, shown
    assert "Status van dit antwoord: <strong>Nieuw</strong>" in body
    [read] = [row for row in world.audit("reply.read") if row.object_id == str(reply_id)]
    assert read.case_id == case_id
    # Opening the page confirms nothing.
    with world.db() as s:
        assert s.get_one(CreditorReply, reply_id).reviewed_at is None

    # "Gelezen": read, off the list; the debt stays as it was.
    done = client.post(
        f"/dossiers/{case_id}/antwoorden/{reply_id}/gelezen",
        data={"csrf_token": csrf_of(client, f"/dossiers/{case_id}/antwoorden/{reply_id}")},
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/dossiers/{case_id}/antwoorden/{reply_id}")
    assert "Status van dit antwoord: <strong>Gelezen</strong>" in text(client.get(done.headers["Location"]))
    assert _debt(world, debt_id)[0].amount_status == "estimated"

    # "Bedragen overnemen": the check page shows what the debt will carry, with "Wijzigen" per amount.
    check = text(client.get(f"/dossiers/{case_id}/antwoorden/{reply_id}/overnemen"))
    assert "Controleer de bedragen" in check
    assert "Bevestigd" in check
    assert f"/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren?van={reply_id}#veld-principal_cents" in check
    assert "het totaal wordt €\xa01.952,50 in plaats van €\xa01.865,50" in check
    token = csrf_of(client, f"/dossiers/{case_id}/antwoorden/{reply_id}/overnemen")
    taken = client.post(
        f"/dossiers/{case_id}/antwoorden/{reply_id}/overnemen", data={"csrf_token": token, "confirm": "1"}
    )
    assert taken.status_code == 303
    after = text(client.get(taken.headers["Location"]))
    assert "Bedragen overgenomen" in after
    assert "Status van dit antwoord: <strong>Overgenomen</strong>" in after

    debt, state = _debt(world, debt_id)
    assert (debt.principal_cents, debt.interest_cents, debt.costs_cents) == (190_000, 1_250, 4_000)
    assert (debt.peildatum, debt.amount_status, state) == (
        world.today - timedelta(days=2),
        "confirmed",
        "balance_confirmed",
    )
    [confirmed] = world.audit("reply.confirm")
    assert (confirmed.object_id, confirmed.case_id) == (str(reply_id), case_id)

    # Exactly once: a second press changes nothing and says why.
    again = client.post(
        f"/dossiers/{case_id}/antwoorden/{reply_id}/overnemen", data={"csrf_token": token, "confirm": "1"}
    )
    assert again.status_code == 409
    assert "al overgenomen" in text(again)
    assert "Fout: " in text(again)
    with world.db() as s:
        instance = s.get_one(WorkflowInstance, s.get_one(Debt, debt_id).instance_id)
        events = [entry.event for entry in world.runtime.engine.history(s, instance)]
    assert events.count("confirm_balance") == 1
    assert events[-3:] == ["reply_received", "balance_received", "confirm_balance"]


def test_the_case_page_lists_the_newest_answer_per_debt_and_the_page_shows_earlier_versions(world: DemoWorld) -> None:
    case_id, _debt_id, letter_id = _rent(world)
    first = _creditor_answers(world, letter_id)
    second = _creditor_answers(world, letter_id, principal_cents=200_000, note="Correctie: hoofdsom hoger.")

    client = world.client(COUNSELLOR)
    case_page = text(client.get(f"/dossiers/{case_id}"))
    assert f'/antwoorden/{second}"' in case_page
    assert f'/antwoorden/{first}"' not in case_page  # an earlier version is history, on the answer page

    newest = text(client.get(f"/dossiers/{case_id}/antwoorden/{second}"))
    assert "Versies van het antwoord" in newest
    assert f"/dossiers/{case_id}/antwoorden/{first}" in newest
    earlier = text(client.get(f"/dossiers/{case_id}/antwoorden/{first}"))
    assert "Dit is een eerdere versie (versie 1)" in earlier
    assert "Bedragen overnemen" not in earlier
    # Only the newest answer's amounts can be taken over.
    refused = client.get(f"/dossiers/{case_id}/antwoorden/{first}/overnemen")
    assert refused.status_code == 303


def test_the_attachment_is_downloaded_with_its_audit_row(world: DemoWorld) -> None:
    case_id, _debt_id, letter_id = _rent(world)
    pdf = make_pdf()
    reply_id = _creditor_answers(world, letter_id, pdf=pdf)
    client = world.client(COUNSELLOR)

    assert "brief huur.pdf" in text(client.get(f"/dossiers/{case_id}/antwoorden/{reply_id}"))
    download = client.get(f"/dossiers/{case_id}/antwoorden/{reply_id}/bijlage.pdf")
    assert download.status_code == 200
    assert download.data == pdf
    assert download.headers["Content-Disposition"] == f'attachment; filename="bijlage-antwoord-{reply_id}.pdf"'
    [row] = world.audit("reply.attachment")
    assert (row.object_id, row.case_id) == (str(reply_id), case_id)


# --- scope ------------------------------------------------------------------------------------------------------------


def test_only_those_who_may_read_the_case_see_its_answers(world: DemoWorld) -> None:
    case_id, debt_id, letter_id = _rent(world)
    reply_id = _creditor_answers(world, letter_id, pdf=make_pdf())
    other_case = world.case_id("Vries")

    outsider = world.client("pi.lelystad.demo")
    for path in (
        f"/dossiers/{case_id}/antwoorden/{reply_id}",
        f"/dossiers/{case_id}/antwoorden/{reply_id}/bijlage.pdf",
    ):
        assert outsider.get(path).status_code == 404
    # Another case's address for this answer: not found either, also for the counsellor.
    counsellor = world.client(COUNSELLOR)
    assert counsellor.get(f"/dossiers/{other_case}/antwoorden/{reply_id}").status_code == 404
    assert counsellor.get(f"/dossiers/{other_case}/schulden/{debt_id}/antwoord-invoeren").status_code == 404
    assert world.audit("authz_denied")

    # The PI may read the answer, but marking it read and taking amounts over is the counsellor's.
    pi = world.client("pi.demo")
    page = text(pi.get(f"/dossiers/{case_id}/antwoorden/{reply_id}"))
    assert "Bedragen overnemen" not in page
    assert ">Gelezen<" not in page
    token = csrf_of(pi, f"/dossiers/{case_id}/antwoorden/{reply_id}")
    assert pi.post(f"/dossiers/{case_id}/antwoorden/{reply_id}/gelezen", data={"csrf_token": token}).status_code == 403
    assert pi.get(f"/dossiers/{case_id}/antwoorden/{reply_id}/overnemen").status_code == 403
    assert pi.get(f"/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren").status_code == 403
    assert "Antwoord invoeren" not in text(pi.get(f"/dossiers/{case_id}"))


# --- a paper answer ---------------------------------------------------------------------------------------------------


def _form(world: DemoWorld, **changes: str) -> dict[str, str]:
    received = world.today - timedelta(days=1)
    peil = world.today - timedelta(days=3)
    form = {
        "channel": "post",
        "received_on-dag": str(received.day),
        "received_on-maand": str(received.month),
        "received_on-jaar": str(received.year),
        "principal_cents": "1.234,56",
        "costs_cents": "40",
        "peildatum-dag": str(peil.day),
        "peildatum-maand": str(peil.month),
        "peildatum-jaar": str(peil.year),
        "has_judgment": "nee",
        "contact_name": "Afdeling Inning",
        "note": "Per brief van de deurwaarder.",
    }
    form.update(changes)
    return form


def test_a_paper_answer_goes_through_its_check_page_and_becomes_the_debts_amounts(world: DemoWorld) -> None:
    case_id, debt_id, letter_id = _rent(world)
    earlier = _creditor_answers(world, letter_id)
    client = world.client(COUNSELLOR)
    path = f"/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren"
    assert f'href="{path}"' in text(client.get(f"/dossiers/{case_id}"))
    form_page = text(client.get(path))
    assert f"Antwoord van {_landlord(world, debt_id)} invoeren" in form_page
    for legend in ("Ontvangen op", "Dag", "Maand", "Jaar"):
        assert legend in form_page
    token = csrf_of(client, path)

    # Errors: at the top and at the field, the title says so; what was typed stays.
    wrong = client.post(
        path, data={**_form(world, principal_cents="veel", **{"peildatum-maand": ""}), "csrf_token": token}
    )
    assert wrong.status_code == 422
    body = text(wrong)
    assert "<title>Fout: " in body
    assert "Vul een bedrag in euro in" in body
    assert "Vul ook de maand in" in body
    assert 'value="veel"' in body

    # The check page shows the amounts as read, with "Wijzigen" for each row; nothing is stored yet.
    check = client.post(path, data={**_form(world), "csrf_token": token})
    assert check.status_code == 200
    body = text(check)
    assert f"Controleer het antwoord van {_landlord(world, debt_id)}" in body
    assert "€\xa01.234,56" in body
    assert "€\xa040,00" in body
    assert body.count(">Wijzigen<") >= 8
    assert "totaal €\xa01.274,56 in plaats van €\xa01.865,50" in body
    with world.db() as s:
        assert s.scalar(select(CreditorReply.id).where(CreditorReply.channel == "post")) is None

    # "Wijzigen" brings the form back with everything typed.
    back = client.post(path, data={**_form(world), "csrf_token": token, "wijzig": "principal_cents", "confirm": "1"})
    assert back.status_code == 200
    assert 'value="1.234,56"' in text(back)
    assert "Verder naar controleren" in text(back)

    saved = client.post(path, data={**_form(world), "csrf_token": token, "confirm": "1"})
    assert saved.status_code == 303
    match = re.search(r"/antwoorden/(\d+)$", saved.headers["Location"])
    assert match
    shown = text(client.get(saved.headers["Location"]))
    assert "opgeslagen en de bedragen zijn overgenomen (versie 2)" in shown
    assert "Post, ingevoerd door" in shown

    with world.db() as s:
        reply = s.get_one(CreditorReply, int(match.group(1)))
        assert (reply.channel, reply.version, reply.principal_cents, reply.has_judgment) == ("post", 2, 123_456, False)
        assert reply.entered_by.startswith("user:")
        assert reply.reviewed_at is not None
        assert reply.amounts_taken_over
        assert s.get_one(CreditorReply, earlier).superseded_at is not None
    debt, state = _debt(world, debt_id)
    assert (debt.total_cents, debt.amount_status, state) == (127_456, "confirmed", "balance_confirmed")
    [created] = world.audit("reply.create")
    assert created.case_id == case_id


def test_a_pdf_chosen_with_the_form_is_kept_through_errors_and_the_check_page(world: DemoWorld) -> None:
    case_id, debt_id, _letter_id = _rent(world)
    client = world.client(COUNSELLOR)
    path = f"/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren"
    token = csrf_of(client, path)
    pdf = make_pdf()

    wrong = client.post(
        path,
        data={
            **_form(world, channel=""),
            "csrf_token": token,
            "attachment": (io.BytesIO(pdf), "scan.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422
    body = text(wrong)
    assert "Kies hoe het antwoord binnenkwam" in body
    assert "Bewaard: scan.pdf" in body
    carried = re.search(r'name="bijlage_token" value="([^"]+)"', body)
    assert carried

    check = client.post(path, data={**_form(world), "csrf_token": token, "bijlage_token": carried.group(1)})
    assert "scan.pdf" in text(check)
    saved = client.post(
        path, data={**_form(world), "csrf_token": token, "bijlage_token": carried.group(1), "confirm": "1"}
    )
    assert saved.status_code == 303
    reply_path = saved.headers["Location"].split("localhost")[-1]
    download = client.get(f"{reply_path}/bijlage.pdf")
    assert download.status_code == 200
    assert download.data == pdf

    # A token altered or made for another debt carries nothing.
    check = client.post(path, data={**_form(world), "csrf_token": token, "bijlage_token": carried.group(1) + "x"})
    assert "scan.pdf" not in text(check)


def test_a_refused_pdf_is_named_at_its_field(world: DemoWorld) -> None:
    case_id, debt_id, _letter_id = _rent(world)
    client = world.client(COUNSELLOR)
    path = f"/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren"
    refused = client.post(
        path,
        data={
            **_form(world),
            "csrf_token": csrf_of(client, path),
            "attachment": (io.BytesIO(b"not a pdf"), "x.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "Alleen een PDF-bestand kan als bijlage mee." in text(refused)
