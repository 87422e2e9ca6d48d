"""The print batch, the referral and the municipality's inbox through the Flask test client, on the demo world
(SQLite and PostgreSQL), with a real SMTP server so the handover file is built and delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.services import ConsentItem, record_consents
from schulden.letters.models import Letter, PrintBatch
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral
from tests.demo_world import DemoWorld
from tests.web.test_intake import post
from workflows import WorkflowInstance


@pytest.fixture
def world(committed: object, demo_world: DemoWorld) -> DemoWorld:
    """Committed: sending a referral and making a print batch start jobs (the handover file, the PDFs)."""
    return demo_world


def _state(world: DemoWorld, case_id: int) -> str:
    with world.db() as s:
        return s.get_one(WorkflowInstance, s.get_one(Case, case_id).instance_id).state


def test_the_print_batch_lists_the_waiting_post_makes_the_batch_and_downloads_it(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    with world.db() as s:
        # The page lists the post of the casemanager's own PI (the demo has cases in other PIs too).
        waiting = s.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Organisation, Organisation.id == Case.pi_id)
            .where(
                Organisation.code == "PI-ZWOLLE",
                Letter.status == "rendered",
                Letter.channel == "post",
                Letter.print_batch_id.is_(None),
            )
        ).all()
        assert waiting, "the demo has rendered post letters"
    page = client.get("/printbatch")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Brieven die op de printbatch wachten (PI Zwolle)" in html
    assert "PI Lelystad" not in html  # a casemanager sees the post of their own PI only
    assert "IJsselstein" not in html
    assert "Demir" not in html
    assert f"Printbatch van vandaag maken ({len(waiting)} brieven)" in html

    with world.db() as s:
        zwolle_pi = s.scalar(select(Organisation.id).where(Organisation.code == "PI-ZWOLLE"))
        lelystad_pi = s.scalar(select(Organisation.id).where(Organisation.code == "PI-LELYSTAD"))
    refused = post(client, "/printbatch", {"pi_id": str(lelystad_pi)})
    assert refused.status_code == 422
    assert "U maakt alleen de printbatch van uw eigen PI." in refused.get_data(as_text=True)

    checked = post(client, "/printbatch", {"pi_id": str(zwolle_pi)})  # its check page first
    assert checked.status_code == 200
    made = post(client, "/printbatch", {"pi_id": str(zwolle_pi), "confirm": "1"})
    assert made.status_code == 303
    after = client.get("/printbatch").get_data(as_text=True)
    assert f"{len(waiting)} brieven, nu verstuurd. Download hem hieronder" in after
    assert "er wachten geen brieven." in after
    with world.db() as s:
        batch = s.scalars(select(PrintBatch)).one()
        assert batch.letter_count == len(waiting)
    download = client.get(f"/printbatch/{batch.id}.pdf")
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF")
    assert download.headers["Content-Disposition"].startswith(f'attachment; filename="printbatch-{batch.id}-')
    assert download.headers["Cache-Control"] == "no-store"

    # Nothing left: said so, no empty batch.
    again = post(client, "/printbatch", {"pi_id": str(zwolle_pi), "confirm": "1"})
    assert again.status_code == 303
    assert "Er staan geen brieven voor de post klaar" in client.get("/printbatch").get_data(as_text=True)

    # Another PI's casemanager cannot download it: 404 and an audit row, as in the API.
    assert world.client("pi.lelystad.demo").get(f"/printbatch/{batch.id}.pdf").status_code == 404
    with world.db() as s:
        assert (
            s.scalar(
                select(AuditEntry).where(AuditEntry.action == "authz_denied", AuditEntry.object_type == "print_batch")
            )
            is not None
        )
    assert world.client("gemeente.demo").get("/printbatch").status_code == 403


def test_the_referral_page_says_why_it_cannot_send_yet(world: DemoWorld) -> None:
    case_id = world.case_id("Demir")  # still in the inventory
    client = world.client("schuldhulp.demo")
    page = client.get(f"/dossiers/{case_id}/verwijzing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "De verwijzing kan nog niet worden verstuurd. Doe eerst dit:" in html
    assert "Eerst de inventarisatie afronden</a>" in html
    assert "Verwijzing controleren" not in html
    assert "Verwijzingen van dossier" in html
    assert "nog geen." in html
    # No municipality is known yet, so she could not consent to a referral (it names its municipality).
    assert "Er is <strong>geen</strong> geldige toestemming" in html
    refused = post(client, f"/dossiers/{case_id}/verwijzing", {"include_district_team": "ja", "confirm": "1"})
    assert refused.status_code == 422
    assert "Eerst de inventarisatie afronden" in refused.get_data(as_text=True)
    with world.db() as s:
        assert s.scalar(select(Referral.id).where(Referral.case_id == case_id)) is None
    # Only counsellors; and the audit rows of the read are the API's.
    assert world.client("pi.demo").get(f"/dossiers/{case_id}/verwijzing").status_code == 403
    with world.db() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)))
        assert {"case.read", "referral.list"} <= actions


def test_the_municipality_refuses_the_counsellor_re_routes_and_the_next_one_accepts(world: DemoWorld) -> None:
    case_id = world.case_id("Vries")  # referred to Zwolle by the demo
    gemeente = world.client("gemeente.demo")
    inbox = gemeente.get("/gemeente")
    assert inbox.status_code == 200
    html = inbox.get_data(as_text=True)
    assert "Pieter de Vries" in html
    with world.db() as s:
        referral = s.scalars(select(Referral).where(Referral.case_id == case_id)).one()
        assert referral.status == "delivered"
        assert referral.handover_key is not None
    assert referral.wgs_due_on is not None
    assert f'href="/gemeente/verwijzingen/{referral.id}"' in html

    page = gemeente.get(f"/gemeente/verwijzingen/{referral.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/verwijzingen/{referral.id}/overdrachtsdossier.pdf" in html
    assert "Schulden in het overdrachtsdossier" in html
    handover = gemeente.get(f"/verwijzingen/{referral.id}/overdrachtsdossier.pdf")
    assert handover.status_code == 200
    assert handover.data.startswith(b"%PDF")

    # The forms validate with the API's schemas, in Dutch, keeping what was typed.
    empty = post(gemeente, f"/gemeente/verwijzingen/{referral.id}/weigeren", {"reason": "woont elders"})
    assert empty.status_code == 422
    html = empty.get_data(as_text=True)
    assert "Dit veld is verplicht." in html
    assert "woont elders" in html
    accept = f"/gemeente/verwijzingen/{referral.id}/accepteren"
    no_date = post(gemeente, accept, {"first_conversation_on-dag": "morgen"})
    assert no_date.status_code == 422
    assert 'value="morgen"' in no_date.get_data(as_text=True)
    assert "Vul ook de maand en het jaar in" in no_date.get_data(as_text=True)

    refused = post(
        gemeente,
        f"/gemeente/verwijzingen/{referral.id}/weigeren",
        {"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven.", "confirm": "1"},
    )
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith(f"/gemeente/verwijzingen/{referral.id}/besluit")
    assert _state(world, case_id) == "rerouting"
    # Out of Zwolle's scope at once: the page is a 404, with the API's audit row.
    assert gemeente.get(f"/gemeente/verwijzingen/{referral.id}").status_code == 404
    assert "Pieter de Vries" not in gemeente.get("/gemeente").get_data(as_text=True)

    # The counsellor chooses Amsterdam on the page (as PUT /municipality does) and sends again.
    with world.db() as s:
        amsterdam_id = s.scalar(select(Organisation.id).where(Organisation.code == "GM0363"))
        version = s.get_one(Case, case_id).row_version
    client = world.client("schuldhulp.demo")
    page = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert f'name="version" value="{version}"' in page
    choice = f"/dossiers/{case_id}/verwijzing/gemeente"
    no_reason = post(client, choice, {"municipality_id": str(amsterdam_id), "version": str(version)})
    assert no_reason.status_code == 422
    assert "Reden van de keuze: Dit veld is verplicht." in no_reason.get_data(as_text=True)
    stale = post(
        client,
        choice,
        {"municipality_id": str(amsterdam_id), "reason": "woont in Amsterdam", "version": str(version - 1)},
    )
    assert stale.status_code == 422
    assert "Dit dossier is intussen gewijzigd" in stale.get_data(as_text=True)
    assert 'value="woont in Amsterdam"' in stale.get_data(as_text=True) or "woont in Amsterdam</textarea>" in (
        stale.get_data(as_text=True)
    )
    chosen = post(
        client, choice, {"municipality_id": str(amsterdam_id), "reason": "woont in Amsterdam", "version": str(version)}
    )
    assert chosen.status_code == 303, chosen.get_data(as_text=True)[:3000]
    with world.db() as s:
        case = s.get_one(Case, case_id)
        assert (case.municipality_id, case.municipality_reason) == (amsterdam_id, "woont in Amsterdam")
    page = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert "Gekozen gemeente: <strong>Amsterdam</strong>" in page
    # His consent named Zwolle: the referral to Amsterdam waits for his consent to that one (domain.md 6.3).
    assert "Er is <strong>geen</strong> geldige toestemming" in page
    with world.db() as s:
        record_consents(
            s, world.runtime.engine, s.get_one(Case, case_id), actor=SYSTEM,
            items=[ConsentItem(ConsentPurpose.REFER_MUNICIPALITY, None, amsterdam_id)],
            signed_on=world.today, valid_until=world.today + timedelta(weeks=26), today=world.today,
        )  # fmt: skip
        s.commit()
    page = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert "Er is een geldige toestemming" in page
    sent = post(client, f"/dossiers/{case_id}/verwijzing", {"include_district_team": "ja", "confirm": "1"})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:3000]
    assert "Verwijzing verstuurd" in client.get(sent.headers["Location"]).get_data(as_text=True)
    page = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert "Geweigerd" in page
    assert "geen inwoner van deze gemeente" in page
    with world.db() as s:
        first, second = s.scalars(select(Referral).where(Referral.case_id == case_id).order_by(Referral.sequence))
        assert (first.status, second.municipality_id, second.include_district_team) == ("refused", amsterdam_id, True)
        # Amsterdam has no district team address in the demo: the delivery waits for a person to fix it.
        assert second.status == "failed", second.last_error
        assert second.handover_key is not None  # kept as soon as it was made (the delivery failed after)
        second_id = second.id
    assert "Versturen mislukt" in client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    # The files of the failed delivery were kept: the PI can print the summary, the counsellor send the file.
    assert client.get(f"/verwijzingen/{second_id}/samenvatting.pdf").data.startswith(b"%PDF")
    # The first referral's summary is there, for the PI to print.
    assert client.get(f"/verwijzingen/{first.id}/samenvatting.pdf").data.startswith(b"%PDF")


def test_the_municipality_accepts_with_the_date_of_the_first_conversation(world: DemoWorld) -> None:
    case_id = world.case_id("Vries")
    with world.db() as s:
        referral_id = s.scalars(select(Referral.id).where(Referral.case_id == case_id)).one()
    gemeente = world.client("gemeente.demo")
    on = (world.today + timedelta(days=7)).isoformat()
    accepted = post(
        gemeente, f"/gemeente/verwijzingen/{referral_id}/accepteren", {"first_conversation_on": on, "confirm": "1"}
    )
    assert accepted.status_code == 303
    assert "Verwijzing geaccepteerd" in gemeente.get(accepted.headers["Location"]).get_data(as_text=True)
    page = gemeente.get(f"/gemeente/verwijzingen/{referral_id}").get_data(as_text=True)
    assert "Over deze verwijzing is al besloten." in page
    assert _state(world, case_id) == "accepted"
    # Another municipality's user, or a PI, never reaches the page.
    assert world.client("pi.demo").get(f"/gemeente/verwijzingen/{referral_id}").status_code == 403
