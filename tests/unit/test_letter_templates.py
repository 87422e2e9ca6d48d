"""The letter texts: every type loads and renders, the conditions show or hide their text, formats are Dutch."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pytest

from schulden.letters.content import LETTER_TYPES, Address, DebtLine, LetterContent
from schulden.letters.templates import (
    TEXTS_DIR,
    BulletList,
    DebtTable,
    Facts,
    Heading,
    LetterTextError,
    MissingField,
    Paragraph,
    add_months,
    bedrag,
    datum,
    load_template,
    plain_text,
    render_text,
)
from tests.letter_text import text_of

BSN = "111222333"
NAME = "Ĳsbrand van der Mëulen-Öztürk"

#: Fingerprint of each text (everything but the `versie:` line) at its version. A text that changes without a new
#: version fails here: raise `versie:` in the text, then copy the new version and fingerprint from the failure.
FINGERPRINTS: dict[str, tuple[str, str]] = {
    "L1": ("2", "4ff4b67986893fbb"),
    "L2": ("2", "36fa89c706ce712d"),
    "L3": ("2", "c7ac520af23c2360"),
    "L4": ("2", "78f64e9259580d26"),
    "L5": ("2", "885340506b2822cc"),
    "L6": ("2", "42a4cf12b2f8cec5"),
    "L7": ("2", "878e3abb740d4617"),
    "L8": ("2", "f6001a3259fa4603"),
    "L9": ("2", "082b6b6478add099"),
    "L10": ("2", "0e0634ce3a2de56d"),
}


def full_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "client_name": NAME,
        "client_initials": "Ĳ.",
        "date_of_birth": date(1990, 5, 1),
        "dji_number": "0123456",
        "bsn": BSN,
        "pi_name": "PI Zwolle",
        "pi_postal_address": "Postbus 10001, 8000 GA  ZWOLLE",
        "detention_start": date(2026, 10, 1),
        "expected_release": date(2027, 3, 15),
        "pre_trial": False,
        "collector_for": None,
        "threat": None,
        "reply_deadline": date(2026, 12, 11),
        "first_letter_date": date(2026, 11, 2),
        "first_reference": "SR-000123-45",
        "chased": {
            "letter_type": "L1",
            "title": "Melding detentie, verzoek om de incasso op te schorten en om een saldo-opgave",
            "date": date(2026, 11, 2),
            "reference": "SR-000123-45",
        },
        "cjib": None,
        "round": 1,
        "missing": ["de hoofdsom", "de peildatum"],
        "arrangement": {
            "monthly_cents": 1250,
            "months": 12,
            "start_date": date(2027, 1, 31),
            "basis": "het inkomen in detentie van ongeveer € 60 per maand",
            "remaining_cents": 109456,  # the debt below is EUR 1.244,56, the plan pays EUR 150,00
            "paid_by": None,
        },
        "contract_number": "TEL-99812",
        "end_date": None,
        "benefits": ["zorgtoeslag", "huurtoeslag"],
        "municipality_name": "Zwolle",
        "first_appointment": None,
        "release_address": "Thorbeckegracht 1, 8011 VL  ZWOLLE",
        "income_after_release": "bijstand aangevraagd",
        "bank_account": "bestaat, niet geblokkeerd",
        "id_document": "paspoort geldig tot 2030",
        "casemanager": "J. Smit, 038 000 00 00",
        "probation_officer": "Reclassering Nederland, K. Bos",
        "terminated_contracts": ["mobiel abonnement TEL-99812"],
        "consent": {
            "purposes": ["Contact opnemen met schuldeisers", "Uw gegevens delen met de gemeente Zwolle"],
            "recipients": ["Uw schuldeisers", "Gemeente Zwolle"],
            "valid_until": date(2027, 9, 15),
            "witness": "J. Smit, casemanager",
            "municipality": "Zwolle",
            "retention_years": 2,
        },
        "withdrawal": {
            "scope": ["Contact met de gemeente Zwolle"],
            "from_date": date(2026, 12, 1),
            "to_creditor": False,
        },
        "household": ["partner (deelt de huurovereenkomst)", "kind, 8 jaar"],
    }
    fields.update(overrides)
    return fields


def make_content(letter_type: str, **fields: Any) -> LetterContent:
    return LetterContent(
        letter_type=letter_type,
        letter_id=123,
        our_reference="SR-000123-45",
        their_reference="CJIB-2026-55501",
        date=date(2026, 11, 28),
        sender=Address(("Stichting Schuldroute", "Team Noord", "Postbus 123", "8000 AB  ZWOLLE")),
        sender_contact=("Mw. A. de Boer", "038 123 45 67", "a.deboer@schuldroute.example"),
        recipient=Address(("CJIB", "t.a.v. Incasso", "Postbus 1794", "8901 CB  LEEUWARDEN")),
        fields=full_fields(**fields),
        debts=(DebtLine("CJIB", "123", "CJIB-boete", 123456, 0, 1000, "estimated"),),
        reply_code="K7QM-4TXD-9P",
    )


def render(letter_type: str, **fields: Any) -> str:
    return text_of(render_text(make_content(letter_type, **fields)))


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_every_letter_loads_with_a_title_version_and_subject(letter_type: str) -> None:
    template = load_template(letter_type)
    assert template.title
    assert template.version.isdigit()
    assert template.subject
    assert "client_name" in template.required


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_every_letter_renders_with_a_full_set_of_fields(letter_type: str) -> None:
    rendered = render_text(make_content(letter_type))
    assert rendered.version == load_template(letter_type).version
    assert NAME in rendered.subject
    assert len(rendered.blocks) > 5
    text = text_of(rendered)
    assert "None" not in text
    assert "{{" not in text
    assert "{%" not in text


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_text_changes_come_with_a_new_version(letter_type: str) -> None:
    source = (TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    version = load_template(letter_type).version
    without_version = "\n".join(line for line in source.split("\n") if not line.lower().startswith("versie:"))
    fingerprint = hashlib.sha256(without_version.encode()).hexdigest()[:16]
    known_version, known_fingerprint = FINGERPRINTS[letter_type]
    if version == known_version:
        assert fingerprint == known_fingerprint, (
            f"{letter_type}.txt changed but its versie is still {version}: raise versie, then set "
            f'FINGERPRINTS["{letter_type}"] to ("<new versie>", "{fingerprint}")'
        )
    else:
        pytest.fail(
            f"{letter_type}.txt is at versie {version}: "
            f'set FINGERPRINTS["{letter_type}"] to ("{version}", "{fingerprint}")'
        )


@pytest.mark.parametrize("letter_type", ["L1", "L7", "L8"])
def test_pre_trial_detention_prints_unknown_instead_of_a_release_date(letter_type: str) -> None:
    text = render(letter_type, pre_trial=True, expected_release=None)
    assert "onbekend (voorlopige hechtenis)" in text
    assert "15 maart 2027" not in text
    known = render(letter_type)
    assert "15 maart 2027" in known
    assert "voorlopige hechtenis" not in known


def test_a_pre_trial_flag_wins_over_a_stale_release_date() -> None:
    assert "15 maart 2027" not in render("L1", pre_trial=True)


@pytest.mark.parametrize("letter_type", ["L1", "L2", "L3", "L4"])
def test_the_collecting_party_text_appears_only_when_given(letter_type: str) -> None:
    assert "namens Woningstichting De Kroon" in render(letter_type, collector_for="Woningstichting De Kroon")
    assert "namens" not in render(letter_type).replace("Namens onze cliënt", "")
    assert "opdrachtgever" not in render(letter_type)


@pytest.mark.parametrize("letter_type", ["L1", "L3", "L6", "L8"])
def test_the_threat_text_appears_only_with_a_threat(letter_type: str) -> None:
    text = render(letter_type, threat="eviction")
    assert "Dringend" in text
    assert "Er dreigt een huisuitzetting." in text
    plain = render(letter_type)
    assert "Dringend" not in plain
    assert "dreigt" not in plain


@pytest.mark.parametrize(
    ("threat", "words"),
    [
        ("utility_cut_off", "afsluiting van gas, stroom of water"),
        ("insurance_termination", "beëindiging van de zorgverzekering"),
        ("attachment", "beslag op inkomen of bezittingen"),
    ],
)
def test_each_threat_has_its_own_words(threat: str, words: str) -> None:
    assert f"Er dreigt {words}." in render("L1", threat=threat)


def test_the_referral_asks_for_three_working_days_only_for_a_wgs_threat() -> None:
    assert "binnen drie werkdagen" in render("L8", threat="eviction")
    attachment = render("L8", threat="attachment")
    assert "binnen drie werkdagen" not in attachment
    assert "binnen vier weken" in attachment
    assert "binnen vier weken" in render("L8")


def test_an_unknown_threat_fails() -> None:
    with pytest.raises(LetterTextError, match="unknown threat"):
        render("L1", threat="flood")


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_the_bsn_is_printed_only_when_it_is_in_the_fields(letter_type: str) -> None:
    if letter_type != "L10":  # the withdrawal form does without it
        assert f"BSN: {BSN}" in render(letter_type)
    fields = full_fields()
    del fields["bsn"]
    content = replace(make_content(letter_type), fields=fields)
    without = text_of(render_text(content))
    assert BSN not in without
    assert "BSN" not in without
    assert "burgerservicenummer" not in without.lower()


def test_a_missing_required_field_fails_loudly() -> None:
    fields = full_fields()
    del fields["client_name"]
    with pytest.raises(jinja2.UndefinedError, match="client_name"):
        render_text(replace(make_content("L1"), fields=fields))


@pytest.mark.parametrize(
    ("letter_type", "field"), [("L1", "detention_start"), ("L4", "arrangement"), ("L9", "consent")]
)
def test_a_letter_specific_required_field_fails_loudly(letter_type: str, field: str) -> None:
    with pytest.raises(MissingField, match=field):
        render(letter_type, **{field: None})


def test_an_unknown_merge_field_is_refused() -> None:
    with pytest.raises(LetterTextError, match="expected_relase"):
        render("L1", expected_relase=date(2027, 1, 1))


def _write_text(
    folder: Path, body: str, header: str = "titel: Test\nversie: 1\nonderwerp: Test {{ client_name }}\n"
) -> Path:
    (folder / "L2.txt").write_text(header + "---\n" + body, encoding="utf-8")
    return folder


def test_strict_undefined_catches_a_typo_in_a_text(tmp_path: Path) -> None:
    with pytest.raises(LetterTextError, match="clientname"):
        load_template("L2", texts_dir=_write_text(tmp_path, "Beste {{ clientname }},\n"))


def test_printing_an_empty_optional_field_outside_a_condition_fails(tmp_path: Path) -> None:
    folder = _write_text(tmp_path, "Vrij op {{ expected_release }}.\n")
    content = make_content("L2", expected_release=None)
    with pytest.raises(LetterTextError, match="None"):
        render_text(content, texts_dir=folder)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("titel: Test\nonderwerp: Test\n", "versie"),
        ("titel: Test\nversie: 1.2a\nonderwerp: Test\n", "heel getal"),
        ("titel: Test\nversie: 1\n", "onderwerp"),
        ("titel: Test\nversie: 1\nonderwerp: Test\nverplicht: shoe_size\n", "shoe_size"),
        ("titel: Test\nversie: 1\nonderwerp: Test\nkleur: rood\n", "regel 4"),
    ],
)
def test_a_broken_header_is_reported(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(LetterTextError, match=message):
        load_template("L2", texts_dir=_write_text(tmp_path, "Tekst\n", header))


def test_a_text_saved_on_windows_loads(tmp_path: Path) -> None:
    (tmp_path / "L2.txt").write_bytes(
        "\ufefftitel: Test\r\nversie: 2\r\nonderwerp: Test\r\n---\r\nRegel één\r\n".encode()
    )
    rendered = render_text(make_content("L2"), texts_dir=tmp_path)
    assert rendered.version == "2"
    assert rendered.blocks == (Paragraph("Regel één"),)


def test_the_body_markup_becomes_blocks(tmp_path: Path) -> None:
    body = (
        "Eerste regel\ntweede regel\n\n# Kop\n- punt een\n  gaat door\n- punt twee\n[ ] vinkje\n"
        "| Naam | {{ client_name }} |\n[[schuldenoverzicht]]\n"
    )
    rendered = render_text(make_content("L2"), texts_dir=_write_text(tmp_path, body))
    assert rendered.blocks == (
        Paragraph("Eerste regel tweede regel"),
        Heading("Kop"),
        BulletList(("punt een gaat door", "punt twee")),
        BulletList(("vinkje",), checkbox=True),
        Facts((("Naam", NAME),)),
        DebtTable(),
    )


def test_a_value_cannot_add_structure_or_control_characters(tmp_path: Path) -> None:
    body = "{{ client_name }}\n\n| Naam | {{ client_name }}\n"
    evil = "- punt\n\n# Kop | x \u202eevil\x00 [[schuldenoverzicht]]"
    rendered = render_text(make_content("L2", client_name=evil), texts_dir=_write_text(tmp_path, body))
    cleaned = "- punt # Kop | x evil [[schuldenoverzicht]]"
    assert rendered.blocks == (Paragraph(cleaned), Facts((("Naam", cleaned),)))


def test_jinja_syntax_in_a_value_is_not_evaluated() -> None:
    assert "Jan {{7*7}} {% if %}" in render("L1", client_name="Jan {{7*7}} {% if %}")


def test_dutch_money_and_dates() -> None:
    assert bedrag(123456) == "€\xa01.234,56"
    assert bedrag(0) == "€\xa00,00"
    assert bedrag(5) == "€\xa00,05"
    assert bedrag(-123450) == "€\xa0-1.234,50"
    assert datum(date(2026, 11, 28)) == "28 november 2026"
    assert datum(date(2027, 3, 1)) == "1 maart 2027"
    with pytest.raises(LetterTextError):
        bedrag(12.5)  # type: ignore[arg-type]
    with pytest.raises(LetterTextError):
        datum("2026-11-28")  # type: ignore[arg-type]


def test_letters_use_dutch_formats() -> None:
    text = render("L4")
    assert "Bedrag per maand: €\xa012,50" in text
    assert "Eerste betaling: 31 januari 2027" in text
    assert "Laatste betaling: 31 december 2027" in text
    assert "Totaal van de termijnen: €\xa0150,00" in text
    assert "Totaal van de vordering: €\xa01.244,56" in text
    assert "11 december 2026" in render("L1")


def test_add_months_keeps_the_day_or_takes_the_last_of_the_month() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 5, 31), 0) == date(2026, 5, 31)


def test_the_reminder_counts_its_round() -> None:
    assert render_text(make_content("L3")).subject.startswith("Herinnering: onze brief van 2 november 2026")
    second = render("L3", round=2)
    assert second.startswith("Tweede herinnering")
    assert "de peildatum" in second


def test_the_health_insurance_letter_switches_to_reactivation_after_release() -> None:
    assert render_text(make_content("L6")).subject.startswith("Opschorting basisverzekering")
    # The second L6 (round 2, made by the release) asks for the reactivation; the first never does, even re-rendered.
    after = render_text(make_content("L6", actual_release=date(2027, 3, 15), reactivation=True))
    assert after.subject.startswith("Heractivering basisverzekering")
    assert "vrijgekomen" in text_of(after)
    assert render_text(make_content("L6", actual_release=date(2027, 3, 15))).subject.startswith("Opschorting")


def test_the_consent_form_lists_each_purpose_as_a_box_and_names_its_version() -> None:
    rendered = render_text(make_content("L9"))
    boxes = [b for b in rendered.blocks if isinstance(b, BulletList) and b.checkbox]
    assert boxes == [BulletList(("Contact opnemen met schuldeisers", "Uw gegevens delen met de gemeente Zwolle"), True)]
    text = text_of(rendered)
    assert "15 september 2027" in text
    assert "Autoriteit Persoonsgegevens" in text
    assert "Getuige: J. Smit, casemanager" in text
    assert "L9 versie 2" in text


def test_plain_text_keeps_names_and_double_spaces() -> None:
    assert plain_text("8901 CB  LEEUWARDEN") == "8901 CB  LEEUWARDEN"
    assert plain_text("Mu\u0308ller\r\nStraat\t1") == "Müller Straat 1"
    assert plain_text("a\u200db") == "a\u200db"


def test_an_empty_list_for_a_required_field_counts_as_missing() -> None:
    with pytest.raises(MissingField, match="benefits"):
        render("L7", benefits=[])


def test_the_consent_form_without_named_recipients_says_who_gets_the_data() -> None:
    consent = {**full_fields()["consent"], "recipients": []}
    assert "Alleen met de schuldeisers en instanties" in render("L9", consent=consent)
