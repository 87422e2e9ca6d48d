"""Beheer of a municipality's delivery (issue 13 item 7): the administrator's failed delivery leads to a page where
the team's address and the zaaksysteem settings are put right, with Dutch errors naming each field, and the failed
referrals go again from there; nobody else reaches it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.organisations.models import Organisation
from schulden.referrals.models import DeliveryChannel, MunicipalDelivery, Referral, ReferralStatus
from tests.demo_world import DemoWorld, csrf


def _kampen(world: DemoWorld) -> int:
    with world.db() as s:
        found = s.scalar(select(Organisation.id).where(Organisation.code == "GM0166"))
        assert found is not None
        return found


def test_the_failed_delivery_leads_the_administrator_to_the_municipalitys_page(demo_world: DemoWorld) -> None:
    kampen = _kampen(demo_world)
    admin = demo_world.client("admin.demo")
    home = admin.get("/").get_data(as_text=True)
    assert "Verwijzing aan Kampen niet afgeleverd" in home
    assert f'href="/beheer/gemeenten/{kampen}"' in home
    assert "Aflevering instellen" in home
    page = admin.get(f"/beheer/gemeenten/{kampen}").get_data(as_text=True)
    assert "Verwijzingen die niet zijn afgeleverd (1)" in page
    assert "zaaksysteem-instellingen van de gemeente zijn niet compleet" in page
    assert "Mislukte verwijzingen opnieuw versturen" in page
    found = admin.get("/beheer/gemeenten?q=kamp").get_data(as_text=True)
    assert f'href="/beheer/gemeenten/{kampen}">Kampen</a>' in found


def test_incomplete_zgw_settings_are_refused_field_by_field_and_nothing_changes(demo_world: DemoWorld) -> None:
    kampen = _kampen(demo_world)
    admin = demo_world.client("admin.demo")
    path = f"/beheer/gemeenten/{kampen}"
    form = {"channel": "zgw", "email": "geen-adres", "zaken_api_url": "https://zaken.kampen.example/api/v1",
            "bronorganisatie": "12"}  # fmt: skip
    response = admin.post(path, data={"csrf_token": csrf(admin, path), **form})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<title>Fout: Kampen" in page
    assert "Het RSIN heeft 9 cijfers." in page
    assert page.count("Verplicht bij aflevering via het zaaksysteem (ZGW).") >= 2  # summary and field
    assert 'href="#veld-zaaktype_url"' in page
    assert 'href="#veld-email"' in page
    with demo_world.db() as s:
        row = s.get(MunicipalDelivery, kampen)
        assert row is not None
        assert row.zaaktype_url is None
        assert row.channel == "zgw"


def test_only_an_administrator_reaches_a_municipalitys_settings(demo_world: DemoWorld) -> None:
    kampen = _kampen(demo_world)
    for user in ("schuldhulp.demo", "gemeente.demo", "pi.demo"):
        client = demo_world.client(user)
        assert client.get(f"/beheer/gemeenten/{kampen}").status_code == 403, user
        assert client.get("/beheer/gemeenten").status_code == 403, user
    admin = demo_world.client("admin.demo")
    pi_id = _organisation(demo_world, "PI Zwolle")
    assert admin.get(f"/beheer/gemeenten/{pi_id}").status_code == 404  # a PI is not a municipality


def _organisation(world: DemoWorld, name: str) -> int:
    with world.db() as s:
        found = s.scalar(select(Organisation.id).where(Organisation.name == name))
        assert found is not None, name
        return found


@pytest.mark.usefixtures("committed")
def test_after_saving_an_address_the_failed_referral_goes_by_e_mail(demo_world: DemoWorld) -> None:
    kampen = _kampen(demo_world)
    admin = demo_world.client("admin.demo")
    path = f"/beheer/gemeenten/{kampen}"
    saved = admin.post(path, data={"csrf_token": csrf(admin, path), "channel": "email",
                                   "team_name": "Schuldhulp Kampen", "email": "schuldhulp@kampen.example"})  # fmt: skip
    assert saved.status_code == 303
    assert "De gegevens van Kampen zijn opgeslagen." in admin.get(path).get_data(as_text=True)
    sent_before = len(demo_world.smtp.messages)
    again = admin.post(f"{path}/opnieuw-versturen", data={"csrf_token": csrf(admin, path)}, follow_redirects=True)
    assert "1 verwijzing wordt opnieuw verstuurd." in again.get_data(as_text=True)
    with demo_world.db() as s:
        referral = s.scalars(select(Referral).where(Referral.municipality_id == kampen)).one()
        assert referral.status == ReferralStatus.DELIVERED.value, referral.last_error
        assert referral.channel == DeliveryChannel.EMAIL.value
        actions = set(
            s.scalars(select(AuditEntry.action).where(AuditEntry.object_id.in_((str(kampen), str(referral.id)))))
        )
    assert {"municipality.delivery", "municipality.update", "referral.retry"} <= actions
    mails = demo_world.smtp.messages[sent_before:]
    assert [m["To"] for m in mails] == ["schuldhulp@kampen.example"]
    assert re.search(r"overdracht-.*\.pdf", str(mails[0]))
    assert "Verwijzingen die niet zijn afgeleverd" not in admin.get(path).get_data(as_text=True)
