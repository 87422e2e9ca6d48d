"""Mijn werk for every role on the demo world (issue 13 items 3 and 10): each demo user's first login shows its kinds
of work with counts, each task links to where it is done, and the scope holds (another PI's, another municipality's
work never shows; an administrator never reads a detainee's name)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from schulden.actors import UserActor
from schulden.cases.models import Case, Detainee
from schulden.creditors.models import Creditor
from schulden.creditors.services import get_creditor, propose_change
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral, ReferralStatus
from schulden.referrals.services import accept
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from schulden.users.models import User
from tests.demo_world import DemoWorld

USERS = (
    "pi.demo",
    "vrijwilliger.demo",
    "schuldhulp.demo",
    "gemeente.demo",
    "gemeente_amsterdam.demo",
    "admin.demo",
    "partner.demo",
)


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


def count_of(body: str, heading: str) -> int:
    """The count in the overview at the top: "<a ...>heading</a>: <strong>N</strong>"."""
    match = re.search(rf">{re.escape(heading)}</a>:\s*<strong>(\d+)", body)
    assert match, f"no count for {heading!r} at the top"
    return int(match.group(1))


def section(body: str, kind: str) -> str:
    """The HTML of one kind's section."""
    start = body.index(f'id="taken-{kind}"')
    end = body.find("</section>", start)
    return body[start:end]


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"#]+)"', html)


def test_every_demo_user_starts_with_work(world: DemoWorld) -> None:
    for username in USERS:
        body = text(world.client(username).get("/"))
        assert "geen taken" not in body, username
        assert "sr-task-summary" in body, username


def test_pi_staff_see_the_signature_waited_for_with_a_link_to_record_it(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    body = text(client.get("/"))
    waiting = world.case_id("IJsselstein")
    assert count_of(body, "Wachten op de handtekening van de gedetineerde") == 1
    part = section(body, "consent_awaited")
    assert "Jeroen IJsselstein" in part
    assert "Getekende toestemming vastleggen" in part
    assert "Sinds " in part
    assert f"/intake/{waiting}/toestemming" in hrefs(part)
    assert client.get(f"/intake/{waiting}/toestemming").status_code == 200
    # Their intake clocks are there too, with the date they run to.
    assert "Screening afronden" in body
    assert re.search(r"Sinds \d+ \w+ \d{4}; uiterlijk \d+ \w+ \d{4}<", section(body, "screening_due"))


def test_another_pi_never_sees_zwolle_or_almelo(world: DemoWorld) -> None:
    body = text(world.client("pi.lelystad.demo").get("/"))
    assert "geen taken" in body
    for name in ("IJsselstein", "Demir", "Vries", "Amrani", "Bakker"):
        assert name not in body
    # PI Zwolle's list holds none of PI Almelo's cases, though the same counselling team works for both.
    zwolle = text(world.client("pi.demo").get("/"))
    for name in ("Amrani", "Bakker", "Jansen", "Visser"):
        assert name not in zwolle


def test_the_volunteer_sees_the_signatures_but_not_the_steps_only_staff_take(world: DemoWorld) -> None:
    body = text(world.client("vrijwilliger.demo").get("/"))
    part = section(body, "consent_awaited")
    assert "Toestemmingsformulier laten tekenen" in part
    assert f"/dossiers/{world.case_id('IJsselstein')}" in hrefs(part)
    assert "/toestemming" not in part
    assert "Screening afronden" not in body
    assert "printbatch" not in body


def test_the_counsellor_sees_answers_to_read_a_threat_and_failures(world: DemoWorld) -> None:
    client = world.client("schuldhulp.demo")
    body = text(client.get("/"))
    amrani = world.case_id("Amrani")
    with world.db() as s:
        unread = list(
            s.scalars(
                select(CreditorReply.id).where(
                    CreditorReply.case_id == amrani,
                    CreditorReply.reviewed_at.is_(None),
                    CreditorReply.superseded_at.is_(None),
                )
            )
        )
    assert len(unread) == 2
    assert count_of(body, "Antwoorden van schuldeisers te lezen") == 2
    part = section(body, "reply_to_review")
    assert "Mohamed el Amrani" in part
    for reply_id in unread:
        assert f"/dossiers/{amrani}/antwoorden/{reply_id}" in hrefs(part)
    assert client.get(f"/dossiers/{amrani}/antwoorden/{unread[0]}").status_code == 200

    # The eviction: refer now, urgent, at the top of the list.
    bakker = world.case_id("Bakker")
    part = section(body, "refer_now")
    assert "Sanne Bakker" in part
    assert "Dreiging: nu verwijzen" in part
    assert "Dringend" in part
    assert f"/dossiers/{bakker}/verwijzing" in hrefs(part)
    assert body.index('id="taken-refer_now"') < body.index('id="taken-reply_to_review"')
    # Her letter to the collector could not be made; the delivery to Kampen failed.
    assert "Brief niet gemaakt: " in section(body, "letter_failed")
    assert "Lotte Visser" in section(body, "referral_failed")
    # A debt's letters were never asked for: a deadline that passed, named by person and what it is.
    part = section(body, "due_today")
    assert "Eva de Boer" in part
    assert "Brieven aan de schuldeiser nog niet gevraagd" in part
    assert "(verstreken)" in part


def test_the_municipality_decides_its_referrals_and_sees_its_first_conversations(world: DemoWorld) -> None:
    zwolle = world.client("gemeente.demo")
    body = text(zwolle.get("/"))
    vries = world.case_id("Vries")
    with world.db() as s:
        referral_id = s.scalars(select(Referral.id).where(Referral.case_id == vries)).one()
    part = section(body, "referral_to_decide")
    assert count_of(body, "Verwijzingen te beoordelen") == 1
    assert "Pieter de Vries" in part
    assert f"/gemeente/verwijzingen/{referral_id}" in hrefs(part)
    assert zwolle.get(f"/gemeente/verwijzingen/{referral_id}").status_code == 200
    for name in ("Jansen", "Smit", "Visser"):  # Amsterdam's and Kampen's referrals
        assert name not in body

    # Amsterdam: PI Almelo's referral to decide, and an accepted one whose first conversation is in three days.
    amsterdam = world.client("gemeente_amsterdam.demo")
    body = text(amsterdam.get("/"))
    assert "Jansen" in section(body, "referral_to_decide")
    assert "Pieter de Vries" not in body
    part = section(body, "first_conversation")
    assert "Johan Smit" in part
    assert "Eerste gesprek voeren" in part
    assert f"/dossiers/{world.case_id('Smit')}" in hrefs(part)
    assert amsterdam.get(f"/dossiers/{world.case_id('Smit')}").status_code == 200

    # Zwolle accepts De Vries with a conversation in five days: a first conversation due on its own list.
    with world.db() as s:
        user = s.scalars(select(User).where(User.username == "gemeente.demo")).one()
        actor = UserActor(user.id, Role(user.role), user.organisation_id)
        on = world.today + timedelta(days=5)
        accept(s, actor, referral_id, engine=world.runtime.engine, first_conversation_on=on)
        s.commit()
    body = text(zwolle.get("/"))
    assert 'id="taken-referral_to_decide"' not in body
    part = section(body, "first_conversation")
    assert "Pieter de Vries" in part
    assert "Eerste gesprek" in part


def test_the_administrator_fixes_failures_without_reading_a_name(world: DemoWorld) -> None:
    client = world.client("admin.demo")
    with world.db() as s:
        collector = s.scalars(select(Creditor).where(Creditor.name.startswith("Incassobureau Demo"))).one()
        failed = s.scalars(select(Letter).where(Letter.status == LetterStatus.FAILED.value)).all()
        kampen = s.scalars(select(Referral).where(Referral.status == ReferralStatus.FAILED.value)).one()
        # A counsellor proposes the missing postcode: the administrator's to review.
        counsellor = s.scalars(select(User).where(User.username == "schuldhulp.demo")).one()
        actor = UserActor(counsellor.id, Role(counsellor.role), counsellor.organisation_id)
        propose_change(s, get_creditor(s, collector.id), actor=actor, data={"postcode": "7400 AA"})
        s.commit()
    body = text(client.get("/"))
    assert failed
    assert all(letter.creditor_id == collector.id for letter in failed)
    assert count_of(body, "Brieven die niet gemaakt konden worden") == len(failed)
    part = section(body, "admin_letter_failed")
    assert "de postcode ontbreekt" in part
    assert f"/beheer/schuldeisers/{collector.id}" in hrefs(part)
    assert "Verwijzing aan Kampen niet afgeleverd" in section(body, "admin_delivery")
    assert f"dossier {kampen.case_id}" in body
    part = section(body, "creditor_proposal")
    assert "Incassobureau Demo Incasso B.V." in part
    assert f"/beheer/schuldeisers/{collector.id}" in hrefs(part)
    assert "7400 AA" in text(client.get(f"/beheer/schuldeisers/{collector.id}"))
    # An administrator sees no case: no detainee's name, no link to a case page.
    for name in ("Amrani", "Bakker", "Visser", "IJsselstein"):
        assert name not in body
    assert not [href for href in hrefs(body) if href.startswith("/dossiers/")]


def test_the_partner_sees_the_cases_it_follows(world: DemoWorld) -> None:
    body = text(world.client("partner.demo").get("/"))
    part = section(body, "followed")
    assert "Pieter de Vries" in part
    assert "Verwezen naar de gemeente" in part
    assert f"/dossiers/{world.case_id('Vries')}" in hrefs(part)
    assert "Demir" not in body


def test_every_link_on_every_start_page_opens(world: DemoWorld) -> None:
    for username in USERS:
        client = world.client(username)
        body = text(client.get("/"))
        main = body[body.index("<h1") :]
        for href in sorted(set(hrefs(main))):
            if href.startswith("/") and not href.endswith(".pdf"):
                assert client.get(href).status_code == 200, (username, href)


def test_the_read_is_audited_with_the_cases_it_names(world: DemoWorld) -> None:
    text(world.client("schuldhulp.demo").get("/"))
    [row] = world.audit("tasks.list")
    assert {world.case_id("Amrani"), world.case_id("Bakker")} <= set(row.details["case_ids"])
    assert len(row.details["case_ids"]) == len(set(row.details["case_ids"]))
    # Another role's read names only its own cases: PI Lelystad's list is empty, and so is its row.
    text(world.client("pi.lelystad.demo").get("/"))
    assert world.audit("tasks.list")[-1].details["case_ids"] == []


@pytest.mark.usefixtures("committed")
def test_letters_rendered_for_the_post_wait_for_the_print_batch(demo_world: DemoWorld) -> None:
    client = demo_world.client("pi.demo")
    body = text(client.get("/"))
    with demo_world.db() as s:
        waiting = s.execute(
            select(Letter.id, Detainee.given_names, Detainee.surname)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .join(Organisation, Organisation.id == Case.pi_id)
            .where(
                Letter.status == LetterStatus.RENDERED.value,
                Letter.channel == "post",
                Letter.print_batch_id.is_(None),
                Organisation.name == "PI Zwolle",
            )
        ).all()
    # The consent form (L9) for IJsselstein to sign goes to him in the PI by the PI's post.
    assert waiting, "the demo's post for PI Zwolle is rendered after the commit"
    assert count_of(body, "Brieven voor de printbatch") == len(waiting)
    part = section(body, "print_batch")
    for _letter_id, given, surname in waiting:
        assert f"{given} {surname}" in part
    assert "In de printbatch: " in part
    assert "/printbatch" in hrefs(part)
    assert client.get("/printbatch").status_code == 200
    assert "Amrani" not in body  # PI Almelo's post is not PI Zwolle's
    # Delivered now, the referral still waits for Zwolle's decision.
    assert "Pieter de Vries" in text(demo_world.client("gemeente.demo").get("/"))
