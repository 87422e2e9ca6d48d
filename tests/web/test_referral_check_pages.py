"""The referral's check pages (issue 13 items 4 and 7), through the Flask test client on the demo world (SQLite and
PostgreSQL): a referral that cannot go says what to do first; sending, accepting and refusing each pass a check
page and end on a confirmation with a reference; a delivery says where it stands in words; the municipality sees
what it decides on before the PDF exists; refused referrals stay findable; and nobody reaches another's."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.services import ConsentItem, record_consents
from schulden.letters.templates import datum
from schulden.organisations.models import Organisation
from schulden.referrals import lifecycle
from schulden.referrals.models import Referral
from schulden.roles import Role
from schulden.users.services import create_user
from tests.demo_world import DemoWorld
from tests.web.dates import box_values, shown
from tests.web.test_intake import post
from workflows import WorkflowInstance
from workflows.store import utcnow


def _state(world: DemoWorld, case_id: int) -> str:
    with world.db() as s:
        return s.get_one(WorkflowInstance, s.get_one(Case, case_id).instance_id).state


def _referral_of(world: DemoWorld, surname: str) -> int:
    case_id = world.case_id(surname)
    with world.db() as s:
        found = s.scalars(select(Referral.id).where(Referral.case_id == case_id).order_by(Referral.sequence)).first()
    assert found is not None
    return found


def _text(html: str) -> str:
    """The page's text without tags, spaces collapsed: what a reader sees."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\xa0", " ")


# -- the counsellor ----------------------------------------------------------------------------------------------


def test_a_referral_that_cannot_go_says_what_to_do_first_with_a_link(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Demir")  # still in the inventory
    client = world.client("schuldhulp.demo")
    html = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    text = _text(html)

    assert "De verwijzing kan nog niet worden verstuurd. Doe eerst dit:" in text
    assert f'<a class="utrecht-link" href="/dossiers/{case_id}">Eerst de inventarisatie afronden</a>' in html
    assert "schuld(en) wachten op antwoord of actie" in text
    assert "Niet mogelijk in de status" not in text  # never the workflow's code words
    assert "Verwijzing controleren" not in html  # no send form while something blocks it
    # The check page is not reachable around the page's reasons; a forged confirm is refused with them.
    assert client.get(f"/dossiers/{case_id}/verwijzing/controleren").status_code == 303
    refused = post(client, f"/dossiers/{case_id}/verwijzing", {"confirm": "1"})
    assert refused.status_code == 422
    refused_html = refused.get_data(as_text=True)
    assert "<title>Fout: " in refused_html
    assert "Eerst de inventarisatie afronden" in refused_html
    with world.db() as s:
        assert s.scalar(select(Referral.id).where(Referral.case_id == case_id)) is None


def test_after_a_refusal_the_page_asks_for_the_consent_naming_the_new_municipality(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Vries")
    referral_id = _referral_of(world, "Vries")
    gemeente = world.client("gemeente.demo")
    form = {"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven."}
    assert post(gemeente, f"/gemeente/verwijzingen/{referral_id}/weigeren", {**form, "confirm": "1"}).status_code == 303
    with world.db() as s:
        amsterdam_id = s.scalar(select(Organisation.id).where(Organisation.code == "GM0363"))
        version = s.get_one(Case, case_id).row_version
    client = world.client("schuldhulp.demo")
    before = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert f'href="/dossiers/{case_id}/verwijzing#gemeente">Kies eerst een andere gemeente</a>' in before
    assert "Zwolle weigerde de verwijzing: de cliënt is er geen inwoner." in _text(before)
    assert "Verwijzing controleren" not in before
    chosen = post(
        client,
        f"/dossiers/{case_id}/verwijzing/gemeente",
        {"municipality_id": str(amsterdam_id), "reason": "woont in Amsterdam", "version": str(version)},
    )
    assert chosen.status_code == 303
    html = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    text = _text(html)
    assert f'href="/dossiers/{case_id}/verwijzing#toestemming">Laat het toestemmingsformulier tekenen' in html
    assert "De toestemming voor de verwijzing naar Amsterdam ontbreekt." in text
    assert 'id="toestemming"' in html
    assert "Per e-mail aan schuldhulp@amsterdam.example" in text
    # The earlier referral's refusal stays on the page, in words, with the municipality's reason.
    assert "Geweigerd op " in text
    assert "geen inwoner van deze gemeente. Reden: Staat in Amsterdam ingeschreven." in text


@pytest.mark.usefixtures("committed")
def test_the_counsellor_checks_the_referral_sends_it_and_gets_a_reference(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Vries")
    referral_id = _referral_of(world, "Vries")
    gemeente = world.client("gemeente.demo")
    form = {"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven.", "confirm": "1"}
    assert post(gemeente, f"/gemeente/verwijzingen/{referral_id}/weigeren", form).status_code == 303
    with world.db() as s:
        amsterdam_id = s.scalar(select(Organisation.id).where(Organisation.code == "GM0363"))
        version = s.get_one(Case, case_id).row_version
    client = world.client("schuldhulp.demo")
    choice = {"municipality_id": str(amsterdam_id), "reason": "woont in Amsterdam", "version": str(version)}
    assert post(client, f"/dossiers/{case_id}/verwijzing/gemeente", choice).status_code == 303
    with world.db() as s:
        record_consents(
            s, world.runtime.engine, s.get_one(Case, case_id), actor=SYSTEM,
            items=[ConsentItem(ConsentPurpose.REFER_MUNICIPALITY, None, amsterdam_id)],
            signed_on=world.today, valid_until=world.today + timedelta(weeks=26), today=world.today,
        )  # fmt: skip
        s.commit()

    page = client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True)
    assert "Alles is klaar om te versturen." in page
    assert f'action="/dossiers/{case_id}/verwijzing/controleren"' in page
    # A POST without confirm=1 never sends: it leads to the check page.
    bare = post(client, f"/dossiers/{case_id}/verwijzing", {"include_district_team": "ja"})
    assert bare.status_code == 303
    assert bare.headers["Location"].endswith(f"/dossiers/{case_id}/verwijzing/controleren?wijkteam=ja")

    check = client.get(f"/dossiers/{case_id}/verwijzing/controleren?wijkteam=ja")
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    text = _text(html)
    assert "<title>Controleer de verwijzing" in html
    assert "Gemeente Amsterdam Wijzigen gemeente" in text
    assert f'href="/dossiers/{case_id}/verwijzing?wijkteam=ja#gemeente"' in html
    assert "Per e-mail aan schuldhulp@amsterdam.example" in text
    assert "Amsterdam heeft daar nog geen adres voor ingesteld" in text
    assert "Schulden 1 schuld, samen € 1.200,00" in text
    assert f"Toestemming Getekend op {datum(world.today)}, geldig tot {datum(world.today + timedelta(weeks=26))}" in (
        text
    )
    assert "gegevens van de gedetineerde, met BSN" in text
    assert "Belastingdienst/Toeslagen" in text
    assert "utrecht-table__cell--numeric-column" in html
    assert "Wat er gebeurt als u bevestigt" in text
    assert "De open schulden gaan over naar de gemeente" in text
    with world.db() as s:
        assert len(s.scalars(select(Referral).where(Referral.case_id == case_id)).all()) == 1  # nothing sent yet

    sent = post(client, f"/dossiers/{case_id}/verwijzing", {"include_district_team": "ja", "confirm": "1"})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    with world.db() as s:
        second = s.scalars(select(Referral).where(Referral.case_id == case_id, Referral.sequence == 2)).one()
        assert (second.municipality_id, second.include_district_team) == (amsterdam_id, True)
    assert sent.headers["Location"].endswith(f"/dossiers/{case_id}/verwijzing/{second.id}/verstuurd")
    confirmation = client.get(sent.headers["Location"]).get_data(as_text=True)
    text = _text(confirmation)
    assert "Verwijzing verstuurd" in text
    assert f"Uw referentie SR-{case_id:06d}-OD-2" in text
    # Amsterdam has no district team address in the demo: the delivery failed, and the page says what it means.
    assert (
        "Versturen mislukt: de gemeente heeft geen adres voor het sociaal wijkteam ingesteld; de beheerder is "
        "gewaarschuwd" in text
    )
    assert "Wordt verstuurd" not in text
    listed = _text(client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True))
    assert "Opnieuw versturen (verwijzing 2)" in listed


def test_each_delivery_status_is_said_in_words(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Vries")
    referral_id = _referral_of(world, "Vries")
    client = world.client("schuldhulp.demo")

    def shown() -> str:
        return _text(client.get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True))

    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        lifecycle.start_attempt(referral)
        lifecycle.attempt_on_hold(referral, "wacht op de e-mailinstellingen (SMTP_HOST)")
        s.commit()
    assert "Wacht op de e-mailinstellingen van de beheerder" in shown()

    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        lifecycle.delivery_failed(referral, "SMTPServerDisconnected: Connection unexpectedly closed", final=False)
        s.commit()
    assert "Nog niet afgeleverd: de e-mailserver of het zaaksysteem van de gemeente gaf een fout" in shown()

    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        lifecycle.delivery_failed(
            referral, "DeliveryNotPossible: de gemeente heeft geen e-mailadres voor schuldhulpverlening", final=True
        )
        s.commit()
    text = shown()
    assert (
        "Versturen mislukt: de gemeente heeft geen e-mailadres voor schuldhulpverlening; de beheerder is gewaarschuwd"
        in text
    )
    assert "Opnieuw versturen (verwijzing 1)" in text

    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        lifecycle.retry(referral)
        lifecycle.delivered(referral, at=utcnow(), email_message_id="<x@schuldroute>")
        s.commit()
    text = shown()
    assert f"Afgeleverd op {datum(world.today)}; wacht op het besluit van de gemeente" in text
    assert "Opnieuw versturen" not in text

    # The team's list says the same, and the demo's failed delivery to Kampen with its own reason.
    listed = _text(client.get("/verwijzingen").get_data(as_text=True))
    assert "Versturen mislukt: de zaaksysteem-instellingen van de gemeente zijn niet compleet" in listed


# -- the municipality --------------------------------------------------------------------------------------------


def test_the_municipality_sees_the_debts_and_the_handover_file_before_it_decides(demo_world: DemoWorld) -> None:
    world = demo_world
    referral_id = _referral_of(world, "Vries")
    with world.db() as s:
        assert s.get_one(Referral, referral_id).handover_key is None  # the PDF waits for its delivery
    gemeente = world.client("gemeente.demo")
    page = gemeente.get(f"/gemeente/verwijzingen/{referral_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = _text(html)
    assert "Nog niet gemaakt" not in text
    assert "Schulden in het overdrachtsdossier" in text
    assert "Belastingdienst/Toeslagen Terugvordering toeslagen € 1.200,00" in text
    assert '<td class="utrecht-table__cell utrecht-table__cell--numeric-column">€\xa01.200,00</td>' in html
    assert "Bevestigd" in text
    assert "Totalen per soort schuldeiser" in text
    assert "Totaal open schulden" in text
    assert "Eerste gesprek uiterlijk" in text
    assert "Contactpersonen" in text
    assert "het PDF-bestand wordt gemaakt bij het versturen" in text
    with world.db() as s:
        viewed = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "referral.handover_view", AuditEntry.object_id == str(referral_id)
            )
        ).all()
        assert viewed, "reading the handover contents is audited"

    # The whole file on its own page; the PDF link leads there while the PDF is not made yet.
    assert gemeente.get(f"/verwijzingen/{referral_id}/overdrachtsdossier").status_code == 200
    pdf = gemeente.get(f"/verwijzingen/{referral_id}/overdrachtsdossier.pdf")
    assert pdf.status_code == 303
    assert pdf.headers["Location"].endswith(f"/verwijzingen/{referral_id}/overdrachtsdossier")


def test_accepting_goes_through_a_check_page_and_ends_on_a_confirmation(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Vries")
    referral_id = _referral_of(world, "Vries")
    gemeente = world.client("gemeente.demo")
    url = f"/gemeente/verwijzingen/{referral_id}/accepteren"
    on = world.today + timedelta(days=7)

    past = post(gemeente, url, {"first_conversation_on": (world.today - timedelta(days=1)).isoformat()})
    assert past.status_code == 422
    assert "<title>Fout: " in past.get_data(as_text=True)
    assert "De datum van het eerste gesprek ligt in het verleden." in past.get_data(as_text=True)

    check = post(gemeente, url, {"first_conversation_on": on.isoformat()})
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    text = _text(html)
    assert "Controleer uw besluit: accepteren" in text
    assert f"Datum eerste gesprek {datum(on)}" in text
    assert "Wijzigen datum eerste gesprek" in text
    assert "de casemanager van PI Zwolle zien in Schuldroute dat u de verwijzing accepteert" in text
    assert _state(world, case_id) == "referred"  # nothing decided yet

    back = post(gemeente, url, {"first_conversation_on": on.isoformat(), "wijzig": "first_conversation_on"})
    assert back.status_code == 200
    assert box_values(back.get_data(as_text=True), "first_conversation_on") == shown(on)

    done = post(gemeente, url, {"first_conversation_on": on.isoformat(), "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/gemeente/verwijzingen/{referral_id}/besluit")
    assert _state(world, case_id) == "accepted"
    text = _text(gemeente.get(done.headers["Location"]).get_data(as_text=True))
    assert "Verwijzing geaccepteerd" in text
    assert f"Uw referentie SR-{case_id:06d}-OD-1" in text
    assert f"Het eerste gesprek is op {datum(on)}" in text
    assert "Over deze verwijzing is al besloten." in gemeente.get(f"/gemeente/verwijzingen/{referral_id}").get_data(
        as_text=True
    )
    # The counsellor sees it in words.
    counsellor = _text(world.client("schuldhulp.demo").get(f"/dossiers/{case_id}/verwijzing").get_data(as_text=True))
    assert f"Geaccepteerd op {datum(world.today)}; eerste gesprek op {datum(on)}" in counsellor


def test_a_refusal_is_checked_confirmed_and_stays_findable_for_both_sides(demo_world: DemoWorld) -> None:
    world = demo_world
    case_id = world.case_id("Vries")
    referral_id = _referral_of(world, "Vries")
    gemeente = world.client("gemeente.demo")
    url = f"/gemeente/verwijzingen/{referral_id}/weigeren"
    form = {"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven."}

    missing = post(gemeente, url, {"reason": "woont elders"})
    assert missing.status_code == 422
    assert "woont elders" in missing.get_data(as_text=True)

    check = post(gemeente, url, form)
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    text = _text(html)
    assert "Controleer uw besluit: weigeren" in text
    assert "Soort weigering Geen inwoner van deze gemeente" in text
    assert "Reden Staat in Amsterdam ingeschreven." in text
    assert "die een andere gemeente kiest en opnieuw verwijst" in text
    assert "uw besluit blijft te vinden onder 'Geweigerd' in de inbox" in text
    assert "utrecht-button--danger" in html
    assert _state(world, case_id) == "referred"

    done = post(gemeente, url, {**form, "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/gemeente/verwijzingen/{referral_id}/besluit")
    assert _state(world, case_id) == "rerouting"
    text = _text(gemeente.get(done.headers["Location"]).get_data(as_text=True))
    assert "Verwijzing geweigerd" in text
    assert f"Uw referentie SR-{case_id:06d}-OD-1" in text
    # The case left Zwolle's scope; its own decision did not.
    assert gemeente.get(f"/gemeente/verwijzingen/{referral_id}").status_code == 404
    assert "Pieter de Vries" not in gemeente.get("/gemeente").get_data(as_text=True)
    refused = gemeente.get("/gemeente?tab=geweigerd").get_data(as_text=True)
    assert 'aria-current="page">Geweigerd</a>' in refused
    assert f'href="/gemeente/verwijzingen/{referral_id}/besluit">Pieter de Vries</a>' in refused
    assert "Reden: Staat in Amsterdam ingeschreven." in _text(refused)

    counsellor = world.client("schuldhulp.demo")
    listed = counsellor.get("/verwijzingen?tab=geweigerd").get_data(as_text=True)
    assert f'href="/dossiers/{case_id}/verwijzing">Pieter de Vries</a>' in listed
    assert "Reden: Staat in Amsterdam ingeschreven." in _text(listed)
    assert "Pieter de Vries" not in counsellor.get("/verwijzingen?tab=geaccepteerd").get_data(as_text=True)


def test_nobody_reaches_another_municipalitys_referral_its_file_or_its_decision(demo_world: DemoWorld) -> None:
    world = demo_world
    referral_id = _referral_of(world, "Vries")
    with world.db() as s:
        amsterdam = s.scalars(select(Organisation).where(Organisation.code == "GM0363")).one()
        create_user(s, actor=SYSTEM, username="amsterdam.test", display_name="Ada Amsterdam",
                    role=Role.MUNICIPALITY, password="amsterdam-wachtwoord-1", organisation=amsterdam)  # fmt: skip
        s.commit()
    other = world.client("amsterdam.test", "amsterdam-wachtwoord-1")
    assert other.get(f"/gemeente/verwijzingen/{referral_id}").status_code == 404
    assert other.get(f"/verwijzingen/{referral_id}/overdrachtsdossier").status_code == 404
    assert post(other, f"/gemeente/verwijzingen/{referral_id}/accepteren", {}).status_code == 404

    gemeente = world.client("gemeente.demo")
    form = {"kind": "other", "reason": "Geen hulpvraag.", "confirm": "1"}
    assert post(gemeente, f"/gemeente/verwijzingen/{referral_id}/weigeren", form).status_code == 303
    assert gemeente.get(f"/gemeente/verwijzingen/{referral_id}/besluit").status_code == 200
    assert other.get(f"/gemeente/verwijzingen/{referral_id}/besluit").status_code == 404
    assert "Pieter de Vries" not in other.get("/gemeente?tab=geweigerd").get_data(as_text=True)
    # The handover file on screen is for the roles that may see a BSN; the check and list pages for counsellors.
    assert world.client("vrijwilliger.demo").get(f"/verwijzingen/{referral_id}/overdrachtsdossier").status_code == 403
    assert world.client("pi.demo").get("/verwijzingen").status_code == 403
    with world.db() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.action == "authz_denied")).all()
        assert any(row.object_type == "referral" for row in denied)


# -- the same through the API ------------------------------------------------------------------------------------


def test_the_api_says_what_blocks_a_send_how_a_delivery_stands_and_finds_a_refusal(demo_world: DemoWorld) -> None:
    world = demo_world
    counsellor = world.token("schuldhulp.demo")
    demir = world.case_id("Demir")
    ready = world.http.get(f"/api/v1/cases/{demir}/referral-readiness", headers=counsellor)
    assert ready.status_code == 200
    body = ready.json
    assert body is not None
    assert body["can_send"] is False
    assert body["blockers"][0] == {
        "why": body["blockers"][0]["why"],
        "todo": "Eerst de inventarisatie afronden",
        "where": "case",
    }

    referral_id = _referral_of(world, "Vries")
    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        lifecycle.start_attempt(referral)
        lifecycle.attempt_on_hold(referral, "wacht op de e-mailinstellingen (SMTP_HOST)")
        s.commit()
    one = world.http.get(f"/api/v1/referrals/{referral_id}", headers=counsellor).json
    assert one is not None
    assert (one["status"], one["delivery_state"], one["failure_reason"]) == ("queued", "waiting_for_settings", None)

    gemeente = world.token("gemeente.demo")
    contents = world.http.get(f"/api/v1/referrals/{referral_id}/handover", headers=gemeente)
    assert contents.status_code == 200, contents.json
    handover = contents.json
    assert handover is not None
    assert [(d["creditor"], d["type_label"], d["total_cents"], d["amount_status"]) for d in handover["debts"]] == [
        ("Belastingdienst/Toeslagen", "Terugvordering toeslagen", 120_000, "confirmed")
    ]
    assert handover["total_cents"] == 120_000
    assert handover["urgency"]["first_conversation_due"]
    assert world.audit("referral.handover_view")
    refused = world.http.post(
        f"/api/v1/referrals/{referral_id}/refuse",
        json={"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven."},
        headers=gemeente,
    )
    assert refused.status_code == 200, refused.json
    assert world.http.get(f"/api/v1/referrals/{referral_id}", headers=gemeente).status_code == 404
    listed = world.http.get("/api/v1/referrals?status=refused", headers=gemeente).json
    assert listed is not None
    assert (referral_id, "Staat in Amsterdam ingeschreven.") in [(r["id"], r["refusal_reason"]) for r in listed]
    assert {r["status"] for r in listed} == {"refused"}
    assert world.http.get(f"/api/v1/referrals/{referral_id}/handover", headers=gemeente).status_code == 404
