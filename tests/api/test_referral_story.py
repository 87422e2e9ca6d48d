"""Issue 5 end to end on the demo data: a creditor answers with the code printed on a generated letter, the
counsellor types in a paper answer, the case becomes due and is referred, the handover file reaches the
municipality's mailbox (a real SMTP server), the municipality accepts, and the outcome figures count it.
Plus the reply token's lifecycle (security.md scenarios 4-6), re-routing and a withdrawn consent."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from schulden.users.services import create_user
from tests.demo_world import DemoWorld
from workflows import SYSTEM, WorkflowInstance
from workflows.store import HistoryEntry

PASSWORD = "demo"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
LINK = re.compile(r"/antwoord/([A-Za-z0-9_\-]{30,})$")


@pytest.fixture
def story(committed: object, demo_world: DemoWorld) -> DemoWorld:
    """Committed: letters render and mail goes to a real SMTP server in-process after each commit."""
    return demo_world


def _inventory_case(story: DemoWorld) -> tuple[int, list[Letter]]:
    """Demo case 2 (Demir): in inventory, the first-contact letters (L1) to the CJIB and the landlord."""
    with story.db() as s:
        case = s.scalar(select(Case).join(Detainee).where(Detainee.surname == "Demir"))
        assert case is not None
        letters = list(
            s.scalars(select(Letter).where(Letter.case_id == case.id, Letter.letter_type == "L1").order_by(Letter.id))
        )
        s.expunge_all()
        return case.id, letters


def _consent_to_refer(story: DemoWorld, case_id: int, municipality_id: int, headers: dict[str, str]) -> None:
    today = story.runtime.engine.today()
    signed = story.http.post(
        f"/api/v1/cases/{case_id}/consents",
        json={
            "purposes": [{"purpose": "refer_municipality", "recipient_organisation_id": municipality_id}],
            "signed_on": today.isoformat(),
            "valid_until": (today + timedelta(weeks=26)).isoformat(),
        },
        headers=headers,
    )
    assert signed.status_code == 201, signed.json


def _pdf_text(story: DemoWorld, letter: Letter) -> str:
    data = story.runtime.store.get(letter.storage_key)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _token_from_qr(story: DemoWorld, letter: Letter, tmp_path: Path) -> str:
    """Scan the QR code as a creditor's phone would: rasterise the page, decode the code, take the token."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp decodes the QR code (test dependency)")
    image_module = pytest.importorskip("PIL.Image")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) rasterises the page")
    data = story.runtime.store.get(letter.storage_key)
    (tmp_path / "letter.pdf").write_bytes(data)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", str(pages), "-l", str(pages), "letter.pdf", "page"],
        cwd=tmp_path, check=True, timeout=60,
    )  # fmt: skip
    [png] = sorted(tmp_path.glob("page*.png"))
    [result] = zxingcpp.read_barcodes(image_module.open(png))
    match = LINK.search(result.text)
    assert match, result.text
    return match.group(1)


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1)


def _answer_with_code(story: DemoWorld, code: str, answer: dict[str, str]) -> Any:
    client = story.http
    opened = client.post("/antwoord", data={"code": code, "csrf_token": _csrf(client, "/antwoord")})
    assert opened.status_code == 303, opened.get_data(as_text=True)[:500]
    assert opened.headers["Location"].endswith("/antwoord/brief")
    form = client.get("/antwoord/brief")
    assert form.status_code == 200
    token = CSRF.search(form.get_data(as_text=True))
    assert token
    checked = client.post("/antwoord/brief", data={**answer, "csrf_token": token.group(1)})
    if checked.status_code != 303 or not checked.headers["Location"].endswith("/antwoord/controleer"):
        return checked  # refused at the form: nothing to check
    # "Controleer uw antwoord": the page shows back what was read, and only the confirmation sends it.
    check = client.get("/antwoord/controleer")
    token = CSRF.search(check.get_data(as_text=True))
    assert token
    return client.post("/antwoord/controleer", data={"confirm": "1", "csrf_token": token.group(1)})


def _debt_state(story: DemoWorld, debt_id: int) -> tuple[str, Debt]:
    with story.db() as s:
        debt = s.get_one(Debt, debt_id)
        state = s.get_one(WorkflowInstance, debt.instance_id).state
        s.expunge(debt)
        return state, debt


def test_the_whole_referral_story(story: DemoWorld) -> None:
    case_id, letters = _inventory_case(story)
    cjib_letter, rent_letter = letters
    text = _pdf_text(story, cjib_letter)
    code_match = CODE.search(text)
    assert code_match, "the letter prints a reply code"

    # 1. The CJIB answers on the reply page with the code printed on the letter: balance confirmed.
    done = _answer_with_code(
        story,
        code_match.group(1).lower().replace("-", " "),  # typed sloppily: lower case, spaces
        {
            "principal_cents": "450,00",
            "interest_cents": "0",
            "costs_cents": "1.234,56",
            "peildatum": (story.today - timedelta(days=1)).isoformat(),
            "collection_suspended": "ja",
            "contact_name": "Afdeling Inning",
            "note": "Saldo per gisteren.",
        },
    )
    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    assert done.headers["Location"].endswith("/antwoord/bedankt")
    # The answer waits for a counsellor: the debt keeps its own amounts until they are taken over (issue 13).
    state, debt = _debt_state(story, cjib_letter.debt_id)
    assert state == "answer_received"
    assert debt.amount_status == "estimated"
    # The reply session ended with the answer: the form is gone.
    assert story.http.get("/antwoord/brief").status_code == 303
    counsellor = story.token("schuldhulp.demo")
    with story.db() as s:
        reply_id = s.scalar(select(CreditorReply.id).where(CreditorReply.letter_id == cjib_letter.id))
    confirmed = story.http.post(f"/api/v1/replies/{reply_id}/confirm", headers=counsellor)
    assert confirmed.status_code == 200, confirmed.json
    state, debt = _debt_state(story, cjib_letter.debt_id)
    assert state == "balance_confirmed"
    assert (debt.principal_cents, debt.costs_cents, debt.amount_status) == (45_000, 123_456, "confirmed")

    # 2. The landlord's answer came on paper: the counsellor types it in (the same fields, through the API).
    paper = story.http.post(
        f"/api/v1/debts/{rent_letter.debt_id}/replies",
        json={"channel": "post", "received_on": story.today.isoformat(), "no_cooperation": "declines_helper"},
        headers=counsellor,
    )
    assert paper.status_code == 201, paper.json
    assert paper.json["events"] == "reply_received,decline"
    # Both answers are read: the web one when its amounts were taken over, the paper one by the counsellor who
    # typed it; nothing of this case waits on Mijn werk as an answer to read.
    tasks = story.http.get("/api/v1/tasks", headers=counsellor).json
    assert ("reply_to_review", case_id) not in [(t["kind"], t["case_id"]) for t in tasks]
    replies = story.http.get(f"/api/v1/cases/{case_id}/replies", headers=counsellor).json
    assert [(r["channel"], r["reviewed_at"] is None) for r in replies] == [("web", False), ("post", False)]

    # 3. The third debt (CAK) is written off by the counsellor; the inventory is complete and the referral due.
    with story.db() as s:
        open_debt = s.scalar(
            select(Debt).where(Debt.case_id == case_id, Debt.id.not_in([cjib_letter.debt_id, rent_letter.debt_id]))
        )
        assert open_debt is not None
        cak_id = open_debt.id
    written_off = story.http.post(
        f"/api/v1/debts/{cak_id}/events", json={"event": "write_off", "reason": "kwijtgescholden"}, headers=counsellor
    )
    assert written_off.status_code == 201, written_off.json
    completed = story.http.post(
        f"/api/v1/cases/{case_id}/events", json={"event": "complete_inventory"}, headers=counsellor
    )
    assert completed.status_code == 201, completed.json
    engine = story.runtime.engine
    engine.tick(story.runtime.database.session)
    case = story.http.get(f"/api/v1/cases/{case_id}", headers=counsellor)
    assert case.json["state"] == "referral_due"

    # 4. The counsellor chooses Zwolle and sends the referral: the handover file goes to its mailbox.
    with story.db() as s:
        zwolle = s.scalar(select(Organisation).where(Organisation.code == "GM0193"))
        assert zwolle is not None
        zwolle_id, zwolle_email = zwolle.id, zwolle.email
    chosen = story.http.put(
        f"/api/v1/cases/{case_id}/municipality",
        json={"municipality_id": zwolle_id, "reason": "gaat na vrijlating bij zijn zus in Zwolle wonen"},
        headers={**counsellor, "If-Match": case.headers["ETag"]},
    )
    assert chosen.status_code == 200, chosen.json
    # The consent signed at intake could not name a municipality yet; the detainee signs the referral to Zwolle.
    _consent_to_refer(story, case_id, zwolle_id, counsellor)
    before = len(story.smtp.messages)
    sent = story.http.post(f"/api/v1/cases/{case_id}/referrals", json={}, headers=counsellor)
    assert sent.status_code == 201, sent.json
    referral_id = sent.json["id"]
    # A release 12 weeks away, no threat: the municipality has 4 weeks for the first conversation.
    assert sent.json["wgs_due_on"] is not None
    detail = story.http.get(f"/api/v1/referrals/{referral_id}", headers=counsellor).json
    assert detail["status"] == "delivered", detail
    [mail] = story.smtp.messages[before:]
    assert mail["To"] == zwolle_email
    [attachment] = list(mail.iter_attachments())
    handover_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert "Demir" in handover_text
    summary = story.http.get(f"/api/v1/referrals/{referral_id}/summary.pdf", headers=counsellor)
    assert summary.status_code == 200
    assert summary.data.startswith(b"%PDF")
    with story.db() as s:
        [l8] = s.scalars(select(Letter).where(Letter.case_id == case_id, Letter.letter_type == "L8")).all()
        assert l8.status == "sent"

    # 5. The municipality sees it in its inbox and accepts, with the date of the first conversation.
    gemeente = story.token("gemeente.demo")
    inbox = story.http.get("/api/v1/referrals", headers=gemeente).json
    assert referral_id in [r["id"] for r in inbox]
    tasks = story.http.get("/api/v1/tasks", headers=gemeente).json
    assert ("referral_to_decide", referral_id) in [(t["kind"], t["object_id"]) for t in tasks]
    accepted = story.http.post(
        f"/api/v1/referrals/{referral_id}/accept",
        json={"first_conversation_on": (story.today + timedelta(days=7)).isoformat()},
        headers=gemeente,
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "accepted"
    assert story.http.get(f"/api/v1/cases/{case_id}", headers=counsellor).json["state"] == "accepted"

    # 6. The outcome figures count it.
    figures = story.http.get(
        "/api/v1/figures",
        query_string={"from": (story.today - timedelta(days=30)).isoformat(), "to": story.today.isoformat()},
        headers=counsellor,
    )
    assert figures.status_code == 200, figures.json
    assert "accepted" in figures.get_data(as_text=True)


def test_the_qr_link_is_exchanged_for_a_session_and_leaves_no_token_behind(story: DemoWorld, tmp_path: Path) -> None:
    _case_id, [letter, _other] = _inventory_case(story)
    token = _token_from_qr(story, letter, tmp_path)

    opened = story.http.get(f"/antwoord/{token}")

    assert opened.status_code == 303
    assert token not in opened.headers["Location"]
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = story.http.get(opened.headers["Location"])
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert token not in body
    assert "Demir" in body  # the name the letter states
    assert "000009842" not in body  # never the BSN
    assert page.headers["Cache-Control"].startswith("no-store")


def test_unknown_altered_expired_and_revoked_codes_get_the_same_answer(story: DemoWorld) -> None:
    _case_id, [letter, other] = _inventory_case(story)
    code = CODE.search(_pdf_text(story, letter))
    other_code = CODE.search(_pdf_text(story, other))
    assert code
    assert other_code
    altered = code.group(1)[:-1] + ("A" if code.group(1)[-1] != "A" else "C")

    def attempt(typed: str) -> tuple[int, str]:
        response = story.http.post("/antwoord", data={"code": typed, "csrf_token": _csrf(story.http, "/antwoord")})
        text = response.get_data(as_text=True)
        message = re.search(r"onbekend, verlopen of ingetrokken", text)
        return response.status_code, message.group(0) if message else text[:200]

    unknown = attempt("ACDE-FHJK-MNPQ")
    changed = attempt(altered)
    with story.db() as s:
        row = s.get_one(Letter, other.id)
        from workflows.store import utcnow

        row.reply_expires_at = utcnow() - timedelta(minutes=1)
        s.commit()
    expired = attempt(other_code.group(1))
    counsellor = story.token("schuldhulp.demo")
    revoke = story.http.post(f"/api/v1/letters/{letter.id}/reply-code/revoke", headers=counsellor)
    assert revoke.status_code == 204
    revoked = attempt(code.group(1))

    assert unknown == changed == expired == revoked == (404, "onbekend, verlopen of ingetrokken")


def test_a_revoked_code_ends_an_open_reply_session(story: DemoWorld) -> None:
    _case_id, [letter, _other] = _inventory_case(story)
    code = CODE.search(_pdf_text(story, letter))
    assert code
    story.http.post("/antwoord", data={"code": code.group(1), "csrf_token": _csrf(story.http, "/antwoord")})
    assert story.http.get("/antwoord/brief").status_code == 200

    counsellor = story.token("schuldhulp.demo")
    story.http.post(f"/api/v1/letters/{letter.id}/reply-code/revoke", headers=counsellor)

    assert story.http.get("/antwoord/brief").status_code == 303


def test_typed_codes_are_rate_limited_per_letter(story: DemoWorld) -> None:
    _case_id, [letter, _other] = _inventory_case(story)
    code = CODE.search(_pdf_text(story, letter))
    assert code
    lookup = code.group(1)[:4] + "-" + code.group(1)[5]  # keep the letter's lookup part, guess the secret
    statuses = []
    for guess in range(6):
        wrong = f"{lookup}{'ACDEFH'[guess]}{'HJK'[guess % 3]}MNPQR"  # 12 characters: a well-formed guess
        response = story.http.post("/antwoord", data={"code": wrong, "csrf_token": _csrf(story.http, "/antwoord")})
        statuses.append(response.status_code)
    # The right code is refused too now: the letter is locked for an hour.
    right = story.http.post("/antwoord", data={"code": code.group(1), "csrf_token": _csrf(story.http, "/antwoord")})

    assert statuses[:5] == [404] * 5
    assert statuses[5] == 429
    assert right.status_code == 429
    assert "Te veel pogingen" in right.get_data(as_text=True)


def test_a_bad_answer_names_the_field_in_dutch_and_stores_nothing(story: DemoWorld) -> None:
    _case_id, [letter, _other] = _inventory_case(story)
    code = CODE.search(_pdf_text(story, letter))
    assert code

    response = _answer_with_code(
        story, code.group(1), {"principal_cents": "veel", "peildatum": "2999-01-01", "contact_email": "geen-adres"}
    )

    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Vul een bedrag in euro in" in text
    assert 'value="veel"' in text  # what was typed is kept
    with story.db() as s:
        assert s.scalars(select(CreditorReply).where(CreditorReply.letter_id == letter.id)).all() == []
        state = s.get_one(WorkflowInstance, s.get_one(Debt, letter.debt_id).instance_id).state
        assert state == "notified" or state == "letters_requested"


def test_refused_as_not_resident_the_case_is_rerouted_and_keeps_its_history(story: DemoWorld) -> None:
    counsellor = story.token("schuldhulp.demo")
    gemeente = story.token("gemeente.demo")
    with story.db() as s:
        case = s.scalar(select(Case).join(Detainee).where(Detainee.surname == "Vries"))
        assert case is not None
        case_id = case.id
        amsterdam = s.scalar(select(Organisation).where(Organisation.code == "GM0363"))
        assert amsterdam is not None
        amsterdam_id = amsterdam.id
    [first] = story.http.get(f"/api/v1/cases/{case_id}/referrals", headers=counsellor).json

    refused = story.http.post(
        f"/api/v1/referrals/{first['id']}/refuse",
        json={"kind": "not_resident", "reason": "Niet ingeschreven in Zwolle"},
        headers=gemeente,
    )
    assert refused.status_code == 200, refused.json
    # The refusing municipality no longer sees the case.
    assert story.http.get(f"/api/v1/cases/{case_id}", headers=gemeente).status_code == 404

    current = story.http.get(f"/api/v1/cases/{case_id}", headers=counsellor)
    assert current.json["state"] == "rerouting"
    story.http.put(
        f"/api/v1/cases/{case_id}/municipality",
        json={"municipality_id": amsterdam_id, "reason": "woont bij zijn moeder in Amsterdam"},
        headers={**counsellor, "If-Match": current.headers["ETag"]},
    )
    # A referral consent names its municipality: Amsterdam needs one of its own (domain.md 6.3).
    _consent_to_refer(story, case_id, amsterdam_id, counsellor)
    again = story.http.post(f"/api/v1/cases/{case_id}/referrals", json={}, headers=counsellor)
    assert again.status_code == 201, again.json

    referrals = story.http.get(f"/api/v1/cases/{case_id}/referrals", headers=counsellor).json
    assert [(r["sequence"], r["municipality"]["code"], r["status"]) for r in referrals] == [
        (1, "GM0193", "refused"),
        (2, "GM0363", "delivered"),
    ]
    with story.db() as s:
        events = [
            e.event
            for e in s.scalars(
                select(HistoryEntry).where(HistoryEntry.instance_id == s.get_one(Case, case_id).instance_id)
            )
        ]
    assert events[-4:] == ["send_referral", "refuse_referral_not_resident", "set_municipality", "send_referral"]

    # Amsterdam now sees the case, but not Zwolle's refusal: a municipality reads only referrals addressed to it.
    with story.db() as s:
        create_user(s, actor=SYSTEM, username="gemeente.amsterdam", display_name="Amsterdam", role=Role.MUNICIPALITY,
                    password="demo", organisation=s.get_one(Organisation, amsterdam_id))  # fmt: skip
        s.commit()
    amsterdam_user = story.token("gemeente.amsterdam")
    assert story.http.get(f"/api/v1/cases/{case_id}", headers=amsterdam_user).status_code == 200
    assert story.http.get(f"/api/v1/referrals/{referrals[1]['id']}", headers=amsterdam_user).status_code == 200
    assert story.http.get(f"/api/v1/referrals/{first['id']}", headers=amsterdam_user).status_code == 404
    handover = story.http.get(f"/api/v1/referrals/{first['id']}/handover.pdf", headers=amsterdam_user)
    assert handover.status_code == 404


def test_a_withdrawn_consent_stops_a_referral_it_no_longer_covers(story: DemoWorld) -> None:
    counsellor = story.token("schuldhulp.demo")
    with story.db() as s:
        case = s.scalar(select(Case).join(Detainee).where(Detainee.surname == "Demir"))
        assert case is not None
        case_id = case.id
    with story.db() as s:
        zwolle_id = s.scalar(select(Organisation.id).where(Organisation.code == "GM0193"))
    current = story.http.get(f"/api/v1/cases/{case_id}", headers=counsellor)
    chosen = story.http.put(
        f"/api/v1/cases/{case_id}/municipality",
        json={"municipality_id": zwolle_id, "reason": "woont in Zwolle"},
        headers={**counsellor, "If-Match": current.headers["ETag"]},
    )
    assert chosen.status_code == 200, chosen.json
    # Her intake named no municipality, so she consents to the referral to Zwolle now that it is known.
    signed = story.http.post(
        f"/api/v1/cases/{case_id}/consents",
        json={
            "purposes": [{"purpose": "refer_municipality", "recipient_organisation_id": zwolle_id}],
            "signed_on": story.today.isoformat(),
            "valid_until": (story.today + timedelta(weeks=26)).isoformat(),
        },
        headers=counsellor,
    )
    assert signed.status_code == 201, signed.json
    consents = story.http.get(f"/api/v1/cases/{case_id}/consents", headers=counsellor).json
    refer = [c["id"] for c in consents if c["purpose"] == "refer_municipality"]
    assert refer
    withdrawn = story.http.post(
        f"/api/v1/cases/{case_id}/consents/withdrawal", json={"consent_ids": refer}, headers=counsellor
    )
    assert withdrawn.status_code in (200, 201), withdrawn.json
    story.http.post(f"/api/v1/cases/{case_id}/events", json={"event": "request_referral"}, headers=counsellor)

    refused = story.http.post(f"/api/v1/cases/{case_id}/referrals", json={}, headers=counsellor)

    assert refused.status_code == 409, refused.json
    assert "toestemming" in refused.json["detail"]
    with story.db() as s:
        assert s.scalars(select(Referral).where(Referral.case_id == case_id)).all() == []


def test_a_first_conversation_planned_after_the_wgs_term_is_a_breach_on_both_sides(story: DemoWorld) -> None:
    counsellor = story.token("schuldhulp.demo")
    gemeente = story.token("gemeente.demo")
    with story.db() as s:
        case = s.scalar(select(Case).join(Detainee).where(Detainee.surname == "Vries"))
        assert case is not None
        case_id = case.id
    [referral] = story.http.get(f"/api/v1/cases/{case_id}/referrals", headers=counsellor).json
    late = date.fromisoformat(referral["wgs_due_on"]) + timedelta(days=1)

    accepted = story.http.post(
        f"/api/v1/referrals/{referral['id']}/accept", json={"first_conversation_on": late.isoformat()}, headers=gemeente
    )

    assert accepted.status_code == 200, accepted.json
    assert accepted.json["wgs_breached"] is True
    for headers in (counsellor, gemeente):
        tasks = story.http.get("/api/v1/tasks", headers=headers).json
        assert ("wgs_breach", referral["id"]) in [(t["kind"], t["object_id"]) for t in tasks]
    figures = story.http.get(
        "/api/v1/figures",
        query_string={"from": story.today.isoformat(), "to": story.today.isoformat(), "group_by": "municipality"},
        headers=counsellor,
    ).json
    assert figures["total"]["wgs_breaches"] == 1


def test_mijn_werk_lists_overdue_creditor_answers_and_deadlines_of_today(story: DemoWorld) -> None:
    from workflows import SYSTEM
    from workflows.store import TimerRow, TimerStatus

    engine = story.runtime.engine
    case_id, [cjib_letter, _rent] = _inventory_case(story)
    with story.db() as s:
        debt = s.get_one(Debt, cjib_letter.debt_id)
        instance = s.get_one(WorkflowInstance, debt.instance_id)
        for event in ("letters_sent", "reply_overdue"):  # the creditor let the term pass: reminder L3 went out
            engine.fire(s, instance, event, actor=SYSTEM)
        # The reminder's own term ends today.
        timer = s.scalar(
            select(TimerRow).where(TimerRow.instance_id == instance.id, TimerRow.status == TimerStatus.PENDING)
        )
        assert timer is not None
        timer.deadline = story.today
        s.commit()

    tasks = story.http.get("/api/v1/tasks", headers=story.token("schuldhulp.demo")).json

    kinds = {(t["kind"], t["case_id"]) for t in tasks}
    assert ("answer_overdue", case_id) in kinds
    assert ("due_today", case_id) in kinds
    page_client = story.app.test_client()
    login = page_client.get("/aanmelden")
    token = CSRF.search(login.get_data(as_text=True))
    assert token
    page_client.post(
        "/aanmelden", data={"username": "schuldhulp.demo", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    page = page_client.get("/").get_data(as_text=True)
    assert "Antwoorden van schuldeisers te laat" in page
    assert "Termijnen die vandaag verlopen" in page


def test_an_administrator_changes_a_letter_text_and_the_next_letters_use_it(story: DemoWorld) -> None:
    from schulden.letters.templates import TEXTS_DIR, use_stored_texts

    admin = story.app.test_client()
    login = admin.get("/aanmelden")
    token = CSRF.search(login.get_data(as_text=True))
    assert token
    admin.post("/aanmelden", data={"username": "admin.demo", "password": PASSWORD, "csrf_token": token.group(1)})
    shipped = (TEXTS_DIR / "L1.txt").read_text(encoding="utf-8-sig")
    version = int(re.search(r"^versie:\s*(\d+)", shipped, re.MULTILINE).group(1))  # type: ignore[union-attr]
    try:
        form = admin.get("/beheer/sjablonen/L1").get_data(as_text=True)
        csrf = CSRF.search(form)
        assert csrf
        # The same version again is refused, with the reason at the field; nothing is stored.
        same = admin.post("/beheer/sjablonen/L1", data={"text": shipped, "csrf_token": csrf.group(1)})
        assert same.status_code == 422
        assert "Verhoog de versie" in same.get_data(as_text=True)
        broken = admin.post(
            "/beheer/sjablonen/L1",
            data={"text": shipped.replace("---", "===", 1), "csrf_token": csrf.group(1)},
        )
        assert broken.status_code == 422
        assert "De tekst klopt niet" in broken.get_data(as_text=True)

        changed = re.sub(r"^versie:\s*\d+", f"versie: {version + 1}", shipped, count=1, flags=re.MULTILINE)
        changed += "\nDeze zin staat er sinds de proefwijziging.\n"
        saved = admin.post("/beheer/sjablonen/L1", data={"text": changed, "csrf_token": csrf.group(1)})
        assert saved.status_code == 303, saved.get_data(as_text=True)[:1000]

        # The next letters use the new text and name its version.
        case_id, _letters = _inventory_case(story)
        counsellor = story.token("schuldhulp.demo")
        with story.db() as s:
            cak = s.scalar(
                select(Debt.id)
                .join(WorkflowInstance, WorkflowInstance.id == Debt.instance_id)
                .where(Debt.case_id == case_id, WorkflowInstance.state == "identified")
            )
        fired = story.http.post(f"/api/v1/debts/{cak}/events", json={"event": "send_letters"}, headers=counsellor)
        assert fired.status_code == 201, fired.json
        with story.db() as s:
            letter = s.scalar(select(Letter).where(Letter.debt_id == cak, Letter.letter_type == "L1"))
            assert letter is not None
            s.expunge(letter)
        assert letter.template_version == str(version + 1)
        assert "sinds de proefwijziging" in _pdf_text(story, letter)
    finally:
        use_stored_texts({}, None)  # this process's cache; the table is emptied after the test
