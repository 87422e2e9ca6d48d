"""Creditor reply sessions live on the server (issue 10 item 3; security.md 2.2, scenarios 4-6): the cookie holds
a random id, a row names the letter; a cookie signed with the right key but naming a letter opens nothing; the
session ends at submit, at revocation and at expiry; the QR token is never logged. And answering again keeps the
earlier answer as a version (issue 10 item 8)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.debts.models import Debt
from schulden.replies.models import CreditorReply, ReplySession
from tests.web.reply_support import ReplyWorld, csrf, open_with_link, submit, world
from workflows.store import utcnow

__all__ = ["world"]  # the fixture


def _form_opens(client: FlaskClient) -> bool:
    response = client.get("/antwoord/brief")
    if response.status_code == 200:
        return True
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/antwoord")
    return False


def _sessions(world: ReplyWorld) -> list[ReplySession]:
    with world.db() as s:
        rows = list(s.scalars(select(ReplySession).order_by(ReplySession.id)))
        s.expunge_all()
        return rows


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param({"letter": 0, "until": "2099-01-01T00:00:00+00:00"}, id="the-old-cookie-naming-the-letter"),
        pytest.param("LETTER", id="the-letter-id-as-text"),
        pytest.param(secrets.token_urlsafe(32), id="a-random-session-id"),
    ],
)
def test_a_cookie_signed_with_the_right_key_but_naming_a_letter_opens_nothing(
    world: ReplyWorld, forged: object
) -> None:
    if isinstance(forged, dict):
        forged = {**forged, "letter": world.letter_id}
    elif forged == "LETTER":
        forged = str(world.letter_id)
    with world.client.session_transaction() as cookie:  # signed with the app's own SECRET_KEY
        cookie["reply"] = forged

    assert not _form_opens(world.client)
    pdf = world.client.get("/antwoord/brief.pdf")
    assert pdf.status_code == 303
    assert not pdf.data.startswith(b"%PDF")
    answer = world.client.post(
        "/antwoord/brief", data={**world.balance(), "csrf_token": csrf(world.client, "/antwoord")}
    )
    assert answer.status_code == 303
    with world.db() as s:
        assert s.scalars(select(CreditorReply).where(CreditorReply.letter_id == world.letter_id)).all() == []


def test_the_cookie_holds_a_random_id_and_the_server_row_names_the_letter(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)

    with world.client.session_transaction() as cookie:
        session_id = cookie["reply"]
    assert isinstance(session_id, str)
    assert len(session_id) >= 43  # 256 bits from token_urlsafe(32)
    assert str(world.letter_id) != session_id
    [row] = _sessions(world)
    assert row.letter_id == world.letter_id
    assert session_id not in row.session_hash  # only a hash is stored
    assert timedelta(minutes=44) < row.expires_at - row.created_at <= timedelta(minutes=45)
    assert row.ended_at is None
    assert _form_opens(world.client)
    assert world.client.get("/antwoord/brief.pdf").data.startswith(b"%PDF")


def test_submitting_ends_the_session_and_the_thank_you_page_still_renders(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    with world.client.session_transaction() as cookie:
        session_id = cookie["reply"]

    done = submit(world.client, world.balance())

    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    thanks = world.client.get(done.headers["Location"])
    assert thanks.status_code == 200
    assert "Bedankt voor uw antwoord" in thanks.get_data(as_text=True)
    assert not _form_opens(world.client)
    [row] = _sessions(world)
    assert (row.ended_reason, row.ended_at is not None) == ("submitted", True)
    # The same cookie again (copied before the submit) opens nothing: the row ended, not only the cookie.
    replay = world.new_client()
    with replay.session_transaction() as cookie:
        cookie["reply"] = session_id
    assert not _form_opens(replay)
    assert replay.get("/antwoord/brief.pdf").status_code == 303


def test_revoking_the_code_ends_every_open_session_of_the_letter_on_the_server(world: ReplyWorld) -> None:
    phone, desk, other = world.new_client(), world.new_client(), world.new_client()
    open_with_link(phone, world.token)
    open_with_link(desk, world.token)
    open_with_link(other, world.other_token)

    revoked = world.client.post(f"/api/v1/letters/{world.letter_id}/reply-code/revoke", headers=world.bearer())

    assert revoked.status_code == 204
    rows = _sessions(world)
    assert [(r.letter_id, r.ended_reason) for r in rows] == [
        (world.letter_id, "revoked"),
        (world.letter_id, "revoked"),
        (world.other_letter_id, None),
    ]
    assert not _form_opens(phone)
    assert not _form_opens(desk)
    assert _form_opens(other)  # another letter's session goes on


def test_an_expired_session_is_gone_like_an_unknown_one(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    with world.db() as s:
        row = s.scalars(select(ReplySession)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()

    assert not _form_opens(world.client)
    [row] = _sessions(world)
    assert row.ended_reason == "expired"


def test_opening_another_letter_ends_the_browsers_earlier_session(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    open_with_link(world.client, world.other_token)

    rows = _sessions(world)
    assert [(r.letter_id, r.ended_reason) for r in rows] == [
        (world.letter_id, "replaced"),
        (world.other_letter_id, None),
    ]
    page = world.client.get("/antwoord/brief")
    assert page.status_code == 200


def test_the_reply_token_and_session_id_are_never_logged_or_audited(
    world: ReplyWorld, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        open_with_link(world.client, world.token)
        with world.client.session_transaction() as cookie:
            session_id = cookie["reply"]
        world.client.get("/antwoord/brief")
        world.client.get("/antwoord/brief.pdf")
        submit(world.client, world.balance())
        world.client.get(f"/antwoord/{world.token[:-1]}x")  # an altered link

    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert world.token not in logged
    assert world.token[:-1] not in logged
    assert session_id not in logged
    with world.db() as s:
        audited = " ".join(str((e.action, e.details)) for e in s.scalars(select(AuditEntry)))
    assert "reply.open" in audited
    assert world.token[:20] not in audited
    assert session_id[:20] not in audited


def test_answering_again_keeps_the_earlier_answer_as_a_version(world: ReplyWorld) -> None:
    counsellor = world.bearer()
    with world.db() as s:
        principal_before = s.get_one(Debt, world.debt_id).principal_cents
    open_with_link(world.client, world.token)
    first = submit(world.client, {**world.balance("1.000,00"), "note": "Eerste opgave."})
    assert first.status_code == 303
    # The session ended with the first answer; a correction needs the code (or link) again.
    opened = world.client.post("/antwoord", data={"code": world.code, "csrf_token": csrf(world.client, "/antwoord")})
    assert opened.status_code == 303
    second = submit(world.client, {**world.balance("1.250,75"), "note": "Gecorrigeerd: rente vergeten."})
    assert second.status_code == 303

    with world.db() as s:
        replies = list(
            s.scalars(select(CreditorReply).where(CreditorReply.debt_id == world.debt_id).order_by(CreditorReply.id))
        )
        debt = s.get_one(Debt, world.debt_id)
        got = [(r.version, r.principal_cents, r.note, r.superseded_at is not None) for r in replies]
        debt_principal = debt.principal_cents
    assert got == [(1, 100_000, "Eerste opgave.", True), (2, 125_075, "Gecorrigeerd: rente vergeten.", False)]
    # The creditor's amounts wait for the counsellor (issue 13): the debt keeps its own until they are taken over.
    assert debt_principal == principal_before

    history = world.client.get(f"/api/v1/cases/{world.case_id}/replies", headers=counsellor).json or []
    mine = [
        (r["version"], r["principal_cents"], r["superseded_at"] is None)
        for r in history
        if r["debt_id"] == world.debt_id
    ]
    assert mine == [(1, 100_000, False), (2, 125_075, True)]
    tasks = world.client.get("/api/v1/tasks", headers=counsellor).json or []
    to_read = {t["object_id"] for t in tasks if t["kind"] == "reply_to_review"}
    assert replies[1].id in to_read
    assert replies[0].id not in to_read  # only the newest version waits to be read

    # A paper answer typed in by the counsellor afterwards is the next version of the same debt.
    paper = world.client.post(
        f"/api/v1/debts/{world.debt_id}/replies",
        json={"channel": "post", "received_on": world.today.isoformat(), "principal_cents": 130_000,
              "peildatum": world.today.isoformat()},
        headers=counsellor,
    )  # fmt: skip
    assert paper.status_code == 201, paper.json
    assert paper.json is not None
    assert (paper.json["version"], paper.json["superseded_at"]) == (3, None)
    with world.db() as s:
        versions = s.scalars(
            select(CreditorReply.version).where(
                CreditorReply.debt_id == world.debt_id, CreditorReply.superseded_at.is_(None)
            )
        ).all()
        assert list(versions) == [3]
        assert s.get_one(Debt, world.debt_id).principal_cents == 130_000
