"""The referral's own consent form (domain.md 6.3): a referral consent names its municipality, so once it is chosen
after the intake the detainee gets a form (L9) that names it, to sign in the PI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.letters.models import Letter
from tests.demo_world import DemoWorld

# The form is a letter: asking for it starts its render job, which needs committed data.
pytestmark = pytest.mark.usefixtures("committed")


def test_the_form_names_the_municipality_and_only_the_referral(demo_world: DemoWorld, tmp_path: Path) -> None:
    counsellor = demo_world.token("schuldhulp.demo")
    vries = demo_world.case_id("Vries")

    first = demo_world.http.post(f"/api/v1/cases/{vries}/referral-consent-form", headers=counsellor)
    again = demo_world.http.post(f"/api/v1/cases/{vries}/referral-consent-form", headers=counsellor)

    assert first.status_code == 201, first.json
    assert again.json["id"] == first.json["id"], "asked once per case and municipality"
    with demo_world.db() as s:
        letter = s.get_one(Letter, first.json["id"])
        assert (letter.letter_type, letter.case_id) == ("L9", vries)
        assert (
            s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(letter.id)))
            .all()
            .count("consent.form")
            == 2
        )
    from integrations.letters.render import render_pdf
    from schulden.letters.compose import Sender, compose

    with demo_world.db() as s:
        letter = s.get_one(Letter, first.json["id"])
        sender = Sender("Schuldroute", ("Postbus 1",), "088", "a@b.example", "http://127.0.0.1")
        content = compose(s, letter, sender=sender, calendar=demo_world.runtime.engine.calendar, reply=None)
    path = tmp_path / "l9.pdf"
    path.write_bytes(render_pdf(content))
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split())
    assert "Zwolle" in text
    assert "schuldeisers benaderen" not in text.lower()


def test_without_a_municipality_the_form_is_refused_naming_the_field(demo_world: DemoWorld) -> None:
    counsellor = demo_world.token("schuldhulp.demo")
    demir = demo_world.case_id("Demir")  # no municipality chosen in the demo

    refused = demo_world.http.post(f"/api/v1/cases/{demir}/referral-consent-form", headers=counsellor)

    assert refused.status_code == 422
    assert "municipality_id" in str(refused.json)


def test_only_the_casemanager_and_the_counsellor_in_scope_make_the_form(demo_world: DemoWorld) -> None:
    vries = demo_world.case_id("Vries")
    answers = {
        user: demo_world.http.post(
            f"/api/v1/cases/{vries}/referral-consent-form", headers=demo_world.token(user)
        ).status_code
        for user in ("vrijwilliger.demo", "partner.demo", "gemeente.demo", "pi.lelystad.demo", "pi.demo")
    }

    assert answers["pi.demo"] == 201
    assert answers["vrijwilliger.demo"] == 403
    assert answers["partner.demo"] == 403
    assert answers["gemeente.demo"] in (403, 404)
    assert answers["pi.lelystad.demo"] == 404, "another PI's case is not found"
