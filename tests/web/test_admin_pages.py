"""Beheer as an administrator uses it (issue 13, item 9, and the check page of item 4; ux.md "Administration" and
"Forms"): organisations chosen in headed groups with the PIs first, error messages that say each label once,
disabling a user through a check page, a letter text edited in boxes with a preview, its differences and a way back,
and Cijfers that compare the PIs side by side with percentages next to the counts. Both backends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.letters.field_guide import sample_content
from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import file_template, parse_template_text, render_text, use_stored_texts
from schulden.organisations.models import Organisation
from schulden.users.models import User
from tests.demo_world import DemoWorld
from tests.web.test_beheer import csrf, demo_world, text

ESCAPE = "{{ cycler.__init__.__globals__.os.getuid() }}"


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


@pytest.fixture
def committed_world(committed_url: str) -> Iterator[DemoWorld]:
    """The demo committed for real: stored letter texts are read by every request (and this process's cache)."""
    yield demo_world(committed_url)
    use_stored_texts({}, None)


# -- organisations in groups ------------------------------------------------------------------------------------------


def test_organisations_are_chosen_in_headed_groups_pis_first_municipalities_last(world: DemoWorld) -> None:
    page = text(world.client("admin.demo").get("/beheer/gebruikers"))
    select_html = page.split('id="veld-organisation" name="organisation"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="([^"]+)">', select_html)
    assert groups[0] == "PI&#39;s"
    assert groups[-1] == "Gemeenten"
    assert "Schuldhulpteams" in groups
    first_group = select_html.split("<optgroup")[1]
    assert "PI Zwolle" in first_group
    assert "PI Lelystad" in first_group
    with world.db() as s:
        kinds: dict[str, str] = {row.name: row.kind for row in s.execute(select(Organisation.name, Organisation.kind))}
    # Every organisation under its own kind's heading: no municipality among the PIs, no PI after the municipalities.
    municipalities = select_html.split('<optgroup label="Gemeenten">')[1]
    names = re.findall(r"<option value=\"\d+\">([^<]+)</option>", municipalities)
    assert names
    assert all(kinds[name.replace("&#39;", "'")] == "municipality" for name in names)
    pis = re.findall(r"<option value=\"\d+\">([^<]+)</option>", first_group)
    assert all(kinds[name] == "pi" for name in pis)
    # The list of accounts names each organisation's kind.
    assert "PI Zwolle (PI)" in page


def test_user_errors_say_each_label_once_next_to_the_field_and_in_the_summary(world: DemoWorld) -> None:
    admin = world.client("admin.demo")
    token = csrf(admin, "/beheer/gebruikers")
    response = admin.post(
        "/beheer/gebruikers",
        data={"csrf_token": token, "username": "Fout Naam", "display_name": " ", "role": "pi_staff", "password": "x"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "<title>Fout: Gebruikers" in page
    assert "Fout: Fout:" not in page
    summary = page.split("sr-error-summary__title")[1].split("</ul>")[0]
    items = re.findall(r'<a class="utrecht-link" href="#veld-([a-z_]+)">([^<]+)</a>', summary)
    assert {field for field, _ in items} == {"username", "display_name", "organisation", "password"}
    for field, message in items:
        # No label before a message that names its field itself ("Gebruikersnaam: Gebruikersnaam ...").
        assert ":" not in message.split(" ")[0], message
        assert message in page.split(f'id="veld-{field}-fout"')[1].split("</div>")[0], field  # and at the field
    messages = dict(items)
    assert messages["username"].startswith("Kies een gebruikersnaam van 2 tot 64 tekens")
    assert messages["display_name"] == "Vul de naam van de gebruiker in."
    assert messages["organisation"] == "Een medewerker of vrijwilliger van een PI hoort bij een PI: kies de PI."
    assert "&#39;pi&#39;" not in page  # no code in a message


# -- disabling a user -------------------------------------------------------------------------------------------------


def test_disabling_a_user_goes_through_a_check_page_then_a_confirmation(world: DemoWorld) -> None:
    volunteer = world.client("vrijwilliger.demo")
    assert volunteer.get("/").status_code == 200
    admin = world.client("admin.demo")
    with world.db() as s:
        user_id = s.scalar(select(User.id).where(User.username == "vrijwilliger.demo"))
    users = text(admin.get("/beheer/gebruikers"))
    assert f'href="/beheer/gebruikers/{user_id}/uitschakelen">Uitschakelen' in users

    check = text(admin.get(f"/beheer/gebruikers/{user_id}/uitschakelen"))
    assert "Controleer: gebruiker uitschakelen" in check
    assert "vrijwilliger.demo" in check
    assert "Vrijwilliger" in check  # the role in words
    assert "PI Zwolle (PI)" in check
    assert f'href="/beheer/gebruikers#gebruiker-{user_id}">Wijzigen' in check
    assert "Alle sessies van vrijwilliger.demo worden direct beëindigd" in check
    assert "vrijwilliger.demo kan niet meer aanmelden." in check
    assert "utrecht-button--danger" in check
    assert 'name="confirm" value="1"' in check
    # Only looking changes nothing.
    with world.db() as s:
        assert s.scalar(select(User.active).where(User.id == user_id)) is True
    assert volunteer.get("/").status_code == 200

    token = csrf(admin, f"/beheer/gebruikers/{user_id}/uitschakelen")
    done = admin.post(f"/beheer/gebruikers/{user_id}/uitschakelen", data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/beheer/gebruikers/{user_id}/uitgeschakeld")
    confirmation = text(admin.get(done.headers["Location"]))
    assert "Gebruiker uitgeschakeld" in confirmation
    assert "vrijwilliger.demo" in confirmation
    assert "kan niet meer aanmelden" in confirmation
    response = volunteer.get("/")
    assert response.status_code == 302
    assert "/aanmelden" in response.headers["Location"]
    with world.db() as s:
        assert s.scalar(select(User.active).where(User.id == user_id)) is False
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.disable")) is not None
    # Once disabled, the check page is not offered again.
    again = admin.get(f"/beheer/gebruikers/{user_id}/uitschakelen")
    assert again.status_code == 303
    assert "is al uitgeschakeld" in text(admin.get(again.headers["Location"]))


# -- letter texts -----------------------------------------------------------------------------------------------------


def _form(page: str) -> dict[str, str]:
    """The boxes of the letter text form as the page shows them."""
    values = dict(re.findall(r'<input class="utrecht-textbox[^>]*name="(\w+)"[^>]*value="([^"]*)"', page, re.S))
    body = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert body
    values["body"] = body.group(1)
    return {k: v.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace(
        "&gt;", ">") for k, v in values.items()}  # fmt: skip


def _stored(world: DemoWorld) -> list[LetterTextVersion]:
    with world.db() as session:
        rows = list(session.scalars(select(LetterTextVersion).order_by(LetterTextVersion.id)))
        session.expunge_all()
        return rows


def test_a_letter_text_is_edited_in_boxes_previewed_compared_and_put_back(committed_world: DemoWorld) -> None:
    world = committed_world
    admin = world.client("admin.demo")
    page = text(admin.get("/beheer/sjablonen/L2"))
    assert "Verzoek om een saldo-opgave" in page
    form = _form(page)
    assert form["title"] == "Verzoek om een saldo-opgave"
    assert form["subject"] == "Verzoek om een overzicht van de vordering \N{EN DASH} {{ client_name }}"
    assert form["required"] == "date_of_birth, reply_deadline"
    assert form["body"].lstrip().startswith("Geachte heer, mevrouw,")
    assert "versie:" not in form["body"]  # the header is ours: nobody types a version or a '---' line
    token = csrf(admin, "/beheer/sjablonen/L2")
    greeting = "Geachte heer, mevrouw,"
    added = f"{greeting}\n\nWij schrijven namens {{{{ client_name }}}}."
    changed = form | {"csrf_token": token, "body": form["body"].replace(greeting, added, 1)}

    # Preview: the sample case fills the fields; the new line is marked <ins>; nothing is stored.
    preview = admin.post("/beheer/sjablonen/L2/voorbeeld", data=changed)
    assert preview.status_code == 200
    page = text(preview)
    assert "Voorbeeld op een verzonnen dossier" in page
    assert "Wij schrijven namens Jan de Voorbeeld." in page
    assert '<ins><span class="sr-visually-hidden">Nieuw: </span>Wij schrijven namens {{ client_name }}.</ins>' in page
    assert "<del>" not in page.split("Wat er verandert")[1].split("</section>")[0]
    assert _stored(world) == []

    # Save: the next version, numbered by the program.
    saved = admin.post("/beheer/sjablonen/L2", data=changed)
    assert saved.status_code == 303
    rows = _stored(world)
    assert [row.version for row in rows] == [3]
    assert "Wij schrijven namens {{ client_name }}." in rows[0].text
    page = text(admin.get("/beheer/sjablonen/L2"))
    assert "Versie 3 van L2 is opgeslagen" in page
    assert "Wat er veranderde in versie 3" in page
    assert "Vergeleken met de meegeleverde tekst (versie 2)." in page
    assert "<ins>" in page.split("Wat er veranderde in versie 3")[1]

    # Its own page: the text and what changed against the shipped text.
    version = text(admin.get("/beheer/sjablonen/L2/versies/3"))
    assert "Verschil met de meegeleverde tekst (versie 2)" in version
    assert "Nieuw: </span>Wij schrijven namens {{ client_name }}.</ins>" in version
    assert admin.get("/beheer/sjablonen/L2/versies/99").status_code == 404

    # A second change that removes a line: <del>.
    token = csrf(admin, "/beheer/sjablonen/L2")
    form = _form(page)
    removed = form | {"csrf_token": token, "body": form["body"].replace("Met vriendelijke groet,", "")}
    assert admin.post("/beheer/sjablonen/L2", data=removed).status_code == 303
    page = text(admin.get("/beheer/sjablonen/L2"))
    assert "Vergeleken met versie 3." in page
    assert '<del><span class="sr-visually-hidden">Weg: </span>Met vriendelijke groet,</del>' in page

    # The way back: the shipped text again, as version 5, audited; its letters read as the shipped text's.
    back = admin.post("/beheer/sjablonen/L2/terugzetten", data={"version": "meegeleverd", "csrf_token": token})
    assert back.status_code == 303
    rows = _stored(world)
    assert [row.version for row in rows] == [3, 4, 5]
    restored = parse_template_text("L2", rows[-1].text)
    shipped = file_template("L2")
    assert (restored.title, restored.subject, restored.body) == (shipped.title, shipped.subject, shipped.body)
    letter = render_text(sample_content("L2"), template=restored)
    assert letter.blocks == render_text(sample_content("L2"), template=shipped).blocks
    assert "De tekst van de meegeleverde tekst is terug in gebruik als versie 5" in text(
        admin.get("/beheer/sjablonen/L2")
    )
    with world.db() as s:
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "letter_text.restore")) is not None
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "letter_text.store")).all()) == 2


def test_code_in_a_letter_text_is_refused_with_the_line_of_the_box(committed_world: DemoWorld) -> None:
    world = committed_world
    admin = world.client("admin.demo")
    form = _form(text(admin.get("/beheer/sjablonen/L2")))
    token = csrf(admin, "/beheer/sjablonen/L2")
    body = "Geachte heer, mevrouw,\n\n" + ESCAPE + "\n"
    for path in ("/beheer/sjablonen/L2/voorbeeld", "/beheer/sjablonen/L2"):
        response = admin.post(path, data=form | {"csrf_token": token, "body": body})
        assert response.status_code == 422
        page = text(response)
        assert "<title>Fout: " in page
        assert "Regel 3 van de tekst: hier hoort een gegeven" in page  # line 3 of the box, not of a hidden header
        assert "een functie aanroepen met ( ) kan niet in een brief" in page
        assert "L2.txt" not in page
        assert page.split('id="veld-body-fout"')[1].count("Regel 3 van de tekst") == 1
    bad_subject = admin.post("/beheer/sjablonen/L2", data=form | {"csrf_token": token, "subject": "{{ range(3) }}"})
    assert bad_subject.status_code == 422
    assert "(het onderwerp)" in text(bad_subject).split('id="veld-subject-fout"')[1].split("</div>")[0]
    assert _stored(world) == []


# -- Cijfers ----------------------------------------------------------------------------------------------------------


def test_cijfers_compare_municipalities_with_percentages_and_a_median_called_median(world: DemoWorld) -> None:
    today = world.today
    period = {"from": date(today.year - 1, 1, 1).isoformat(), "to": today.isoformat(), "group_by": "municipality"}
    page = text(world.client("admin.demo").get("/cijfers", query_string=period))
    shares = page.split("Percentages per gemeente</caption>")[1].split("</table>")[0]
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', shares)
    assert headers == [
        "Gemeente", "Intake binnen 10 werkdagen", "Inventarisatie compleet bij vrijlating", "Verwezen voor vrijlating",
        "Eerste gesprek binnen Wgs-termijn",
    ]  # fmt: skip
    assert re.search(r"\d+(,\d)?\xa0% \(\d+ van \d+ geopend\)", shares)
    assert "Alle gemeenten samen" in shares.split("<tfoot")[1]
    answers = page.split("Antwoorden van schuldeisers per gemeente</caption>")[1].split("</table>")[0]
    assert "Mediaan dagen tot eerste antwoord" in answers
    assert "Totaal" not in answers
    rows = re.findall(r'<th scope="row" class="utrecht-table__header-cell">([^<]+)</th>', shares)
    assert len(rows) >= 2  # the groups side by side, and the row of all together
    assert "style=" not in page
