"""The detainee's access overview (issue 15 part 2 and 3): `produce_access_export` and the records of disclosure on the
demo world, on SQLite and PostgreSQL. Everything held appears (every letter with its recipient, every consent, every
organisation that viewed the file), the PDF opens and reads in plain Dutch, producing it is audited, and the roles
that may not produce it get nothing and leave no export row."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from integrations.cases.access_pdf import HEADINGS, render_access_pdf
from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.access_export import AUDIT_ACTION, EXPORT_FORMAT, produce_access_export, to_document
from schulden.cases.models import Case, Consent, Detainee
from schulden.errors import NotFound, NotPermitted
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral
from schulden.roles import Role
from schulden.users.models import User
from tests.demo_world import DemoWorld


def _actor(world: DemoWorld, username: str) -> UserActor:
    with world.db() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        return UserActor(user.id, Role(user.role), user.organisation_id)


def _export(world: DemoWorld, username: str, case_id: int, fmt: str = "json") -> Any:
    with world.db() as s:
        export = produce_access_export(s, world.runtime.engine, _actor(world, username), case_id, fmt=fmt)
        s.commit()
        return export


def _squash(text: str) -> str:
    """Text without any whitespace: a name may wrap anywhere in the PDF's lines."""
    return re.sub(r"\s+", "", text)


@pytest.mark.usefixtures("committed")  # the letters render and the e-mail ones go out; the referral is delivered
def test_every_letter_recipient_consent_and_viewer_is_in_the_export(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Vries")
    # The probation partner reads the case: a viewer and a disclosure.
    partner = demo_world.http.get(f"/api/v1/cases/{case_id}", headers=demo_world.token("partner.demo"))
    assert partner.status_code == 200
    demo_world.http.get(f"/api/v1/cases/{case_id}", headers=demo_world.token("schuldhulp.demo"))

    document = to_document(_export(demo_world, "schuldhulp.demo", case_id))

    assert document["format"] == EXPORT_FORMAT
    with demo_world.db() as s:
        detainee = s.scalars(select(Detainee).join(Case).where(Case.id == case_id)).one()
        letters = list(s.scalars(select(Letter).where(Letter.case_id == case_id)))
        consents = list(s.scalars(select(Consent.id).where(Consent.case_id == case_id)))
        viewers = set(
            s.scalars(
                select(Organisation.name)
                .join(AuditEntry, AuditEntry.organisation_id == Organisation.id)
                .where(AuditEntry.case_id == case_id)
            )
        )
        referral = s.scalars(select(Referral).where(Referral.case_id == case_id)).one()
        municipality = s.get_one(Organisation, referral.municipality_id).name
        probation = s.scalars(select(Organisation.name).join(User).where(User.username == "partner.demo")).one()
    # His own data, his full BSN (the only place it is not masked).
    assert document["person"]["bsn"] == detainee.bsn
    assert document["person"]["surname"] == "Vries"
    # Every letter, with its recipient as recorded on it.
    assert letters
    by_id = {x["id"]: x for x in document["letters"]}
    assert set(by_id) == {x.id for x in letters}
    for letter in letters:
        shown = by_id[letter.id]
        assert shown["letter_type"] == letter.letter_type
        assert shown["title"]
        # The municipality (L8) and the detainee's own letters have no copy of an address: the export names them.
        assert shown["recipient"]["name"] == (letter.recipient_name or shown["recipient"]["name"])
        assert shown["recipient"]["name"]
    l8 = next(x for x in document["letters"] if x["letter_type"] == "L8")
    assert l8["bsn_on_letter"] is True
    # Every consent row, withdrawn or not.
    assert {c["id"] for c in document["consents"]} == set(consents)
    # Every organisation that viewed or changed the file, by name and role, never a staff member's name.
    assert viewers <= {row["by"]["organisation"] for row in document["access_log"]}
    assert {"Reclasseringswerker (demo)", "Schuldhulpverlener (demo)"}.isdisjoint(str(document["access_log"]))
    # The disclosures: the delivered referral (with the BSN and its legal basis) and the partner's reads.
    kinds = {(d["recipient"], d["recipient_kind"]) for d in document["disclosures"]}
    assert (municipality, "municipality") in kinds
    assert (probation, "partner") in kinds
    handover = next(d for d in document["disclosures"] if d["source"] == f"referral:{referral.id}")
    assert handover["bsn"] is True
    assert "Wet gemeentelijke schuldhulpverlening" in handover["bsn_basis"]
    assert handover["basis"] == "Toestemming: aanmelden bij en overdragen aan de gemeente " + municipality
    read = next(d for d in document["disclosures"] if d["recipient_kind"] == "partner")
    assert read["bsn"] is False
    assert read["times"] == 1  # one look at the case, however many audit rows it wrote
    assert "reclassering" in read["basis"]
    # The export itself is in the audit log, with its format.
    [row] = demo_world.audit(AUDIT_ACTION)
    assert row.case_id == case_id
    assert row.details == {"format": "json"}
    assert any(a["action"] == AUDIT_ACTION for a in document["access_log"])


@pytest.mark.usefixtures("committed")
def test_a_letter_sent_by_email_is_a_disclosure_with_its_data_and_basis(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    with demo_world.db() as s:
        sent = list(
            s.scalars(select(Letter).where(Letter.case_id == case_id, Letter.status == LetterStatus.SENT.value))
        )
    assert sent, "the demo's e-mail letters are sent in the committed world"

    document = to_document(_export(demo_world, "pi.demo", case_id))

    disclosed = {d["source"]: d for d in document["disclosures"]}
    for letter in sent:
        d = disclosed[f"letter:{letter.id}"]
        assert d["recipient"] == letter.recipient_name
        assert d["channel"] == "per e-mail"
        assert d["bsn"] is letter.recipient_may_receive_bsn
        assert d["basis"].startswith("Toestemming: ")
        assert any("schuld" in item for item in d["what"]) == (letter.debt_id is not None)
    # A letter still waiting (rendered, not posted) was not disclosed to anyone yet.
    waiting = [x["id"] for x in document["letters"] if x["status"] != "sent"]
    assert not {f"letter:{i}" for i in waiting} & set(disclosed)


@pytest.mark.usefixtures("committed")
def test_the_pdf_opens_with_every_heading_and_every_letters_recipient(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    export = _export(demo_world, "schuldhulp.demo", case_id, fmt="pdf")

    pdf = demo_world.runtime.access_pdf(export)

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    squashed = _squash(text)
    for heading in HEADINGS:
        assert _squash(heading) in squashed, heading
    assert export.letters
    for letter in export.letters:
        assert _squash(letter.recipient.name) in squashed, letter.recipient.name
    assert export.person.bsn
    assert export.person.bsn in squashed
    # The metadata and the footer name the case, never the person.
    assert "Demir" not in str(reader.metadata)
    assert f"Inzageoverzicht \u2013 SR-{case_id:06d}" == reader.metadata.title
    assert render_access_pdf(export) == pdf  # deterministic: the same export gives the same bytes


@pytest.mark.parametrize("username", ["vrijwilliger.demo", "partner.demo", "gemeente.demo", "admin.demo"])
def test_other_roles_may_not_produce_it_and_leave_no_export_row(demo_world: DemoWorld, username: str) -> None:
    case_id = demo_world.case_id("Vries")  # referred to Zwolle: gemeente.demo and the partner may read it

    with pytest.raises(NotPermitted):
        _export(demo_world, username, case_id)

    assert demo_world.audit(AUDIT_ACTION) == []


def test_a_case_outside_the_scope_is_not_found(demo_world: DemoWorld) -> None:
    with pytest.raises(NotFound):
        _export(demo_world, "pi.lelystad.demo", demo_world.case_id("Demir"))
    assert demo_world.audit(AUDIT_ACTION) == []


def test_text_from_the_database_prints_literally_and_runs_nothing(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("IJsselstein")
    hostile = '<font color="red">Jeroen</font><a href="https://evil.example">x</a><img src="/etc/passwd"/>&amp;'
    with demo_world.db() as s:
        detainee = s.scalars(select(Detainee).join(Case).where(Case.id == case_id)).one()
        detainee.given_names = hostile
        s.commit()
    export = _export(demo_world, "pi.demo", case_id, fmt="pdf")

    pdf = render_access_pdf(export)

    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    assert _squash('<font color="red">Jeroen</font>') in _squash(text)
    assert all("/Annots" not in page for page in reader.pages)  # no link was made
    assert not any(page.images for page in reader.pages)  # no image was loaded
