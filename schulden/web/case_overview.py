"""The top of the case page: who, where, the state in plain words, what is urgent and the next step (ux.md).

A counsellor opening a case wants to know in five seconds what it needs now and who does it, not to read the state
machine. This module turns what the case page has already read (the case's view, its debts, letters and answers,
the actions this person may take) into those sentences and picks the one primary action. It reads nothing itself,
so it adds no queries (bench/pages.py) and no audit rows beyond the reads the page already makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import url_for

from schulden.labels import CLOSURE_LABELS, DETENTION_LABELS, THREAT_LABELS, label

#: Who does what next, in the words the people in the chain use for each other.
PI = "de casemanager van de PI"
COUNSELLOR = "de schuldhulpverlener"
MUNICIPALITY = "de gemeente"

#: The state in plain words: what it means for the detainee's debts, one sentence each.
STATE_SENTENCES = {
    "draft": "Het dossier is aangemaakt; de gedetineerde heeft nog niets getekend.",
    "awaiting_consent": "De machtiging is gemaakt en wacht op de handtekening van de gedetineerde.",
    "inventory": "De schulden worden in kaart gebracht: schuldeisers worden aangeschreven en hun antwoorden verwerkt.",
    "inventory_complete": "Alle schulden zijn in kaart; de verwijzing naar de gemeente kan nu worden verstuurd.",
    "referral_due": "De verwijzing naar de gemeente is voorbereid en moet nu worden verstuurd.",
    "referred": "De verwijzing is bij de gemeente; die beslist of zij de schuldhulp overneemt.",
    "rerouting": "De gemeente heeft de verwijzing geweigerd omdat de cliënt er geen inwoner is; er moet een "
    "andere gemeente worden gekozen.",
    "accepted": "De gemeente heeft de verwijzing aanvaard; de warme overdracht loopt tot het eerste gesprek.",
    "on_hold": "Het dossier is aangehouden; de termijnen lopen niet.",
    "closed": "Het dossier is afgesloten.",
}


@dataclass(frozen=True)
class NextStep:
    """What comes next: the sentence, who does it, and (if this person can do it here) where or which button."""

    text: str
    who: str
    url: str | None = None
    event: str | None = None  # a case event this person may fire: the primary button
    action: str | None = None  # the words on the primary link when `url` is set


@dataclass(frozen=True)
class Overview:
    where: str
    release: str
    state: str
    state_sentence: str
    urgent: list[str]
    next_step: NextStep | None


def _release(detention: dict[str, Any], today: date, datum: Any) -> str:
    if detention.get("actual_release"):
        return f"Vrijgelaten op {datum(detention['actual_release'])}"
    expected = detention.get("expected_release")
    if expected is None:
        return "Datum van vrijlating nog onbekend"
    days = (expected - today).days
    if days < 0:
        return f"Verwachte vrijlating was {datum(expected)}: leg de vrijlating vast of pas de datum aan"
    return f"Verwachte vrijlating {datum(expected)} (over {days} {'dag' if days == 1 else 'dagen'})"


def _next_step(
    case: dict[str, Any],
    role: str,
    debts: Sequence[Any],
    unread: int,
    allowed: set[str],
) -> NextStep | None:
    state = case["state"]
    case_id = case["id"]
    municipality = (case.get("municipality") or {}).get("name")
    if state == "draft":
        return NextStep(
            "Het toestemmingsformulier (machtiging) maken en door de gedetineerde laten tekenen.",
            PI,
            event="request_consent" if "request_consent" in allowed else None,
        )
    if state == "awaiting_consent":
        url = url_for("intake.consent", case_id=case_id) if role in ("pi_staff", "counsellor") else None
        return NextStep("De getekende machtiging vastleggen.", PI, url=url, action="Getekende machtiging vastleggen")
    if state == "inventory":
        if not debts:
            url = url_for("intake.debts", case_id=case_id) if role in ("pi_staff", "volunteer", "counsellor") else None
            return NextStep(
                "De schulden vastleggen die de gedetineerde kent.", PI, url=url, action="Schulden vastleggen"
            )
        unwritten = [d for d in debts if d.state == "identified"]
        if unwritten:
            url = url_for("dossiers.write_all", case_id=case_id) if role == "counsellor" else None
            count = len(unwritten)
            noun = "schuldeiser" if count == 1 else "schuldeisers"
            return NextStep(
                f"{count} {noun} aanschrijven.", COUNSELLOR, url=url, action="Alle schuldeisers aanschrijven"
            )
        if unread:
            noun = "antwoord" if unread == 1 else "antwoorden"
            return NextStep(f"{unread} {noun} van schuldeisers lezen en de bedragen overnemen.", COUNSELLOR,
                            url=f"{url_for('dossiers.detail', case_id=case_id)}#antwoorden-kop",
                            action="Antwoorden lezen")  # fmt: skip
        event = "complete_inventory" if "complete_inventory" in allowed else None
        return NextStep(
            "Wachten op de antwoorden van de schuldeisers; daarna de inventarisatie afronden.", COUNSELLOR, event=event
        )
    if state in ("inventory_complete", "referral_due", "rerouting"):
        url = url_for("verwijzing.form", case_id=case_id) if role == "counsellor" else None
        to = f"de gemeente {municipality}" if municipality else "de gemeente"
        text = (
            "Een andere gemeente kiezen en de verwijzing opnieuw versturen."
            if state == "rerouting"
            else f"De verwijzing naar {to} versturen."
        )
        return NextStep(text, COUNSELLOR, url=url, action="Naar de verwijzing")
    if state == "referred":
        who = f"de gemeente {municipality}" if municipality else MUNICIPALITY
        url = None
        if role == "municipality":
            url = url_for("gemeente.inbox")
        return NextStep("Beslissen over de verwijzing: aanvaarden of weigeren.", who, url=url,
                        action="Naar de verwijzingen")  # fmt: skip
    if state == "accepted":
        return NextStep(
            "Het eerste gesprek voeren en de warme overdracht afronden.",
            f"de gemeente {municipality}" if municipality else MUNICIPALITY,
            event="complete_handover" if "complete_handover" in allowed else None,
        )
    if state == "on_hold":
        return NextStep(
            "Het dossier hervatten zodra dat weer kan.", PI, event="resume" if "resume" in allowed else None
        )
    return None


def overview(
    case: dict[str, Any],
    *,
    role: str,
    debts: Sequence[Any],
    unread: int,
    failed_letters: int,
    allowed: set[str],
    today: date,
    datum: Any,
) -> Overview:
    """The case's summary sentences; `datum` is the page's date filter, so the dates read as on the rest of it."""
    detention = case["detention"]
    kind = label(DETENTION_LABELS, detention["type"]).lower()
    where = f"{detention['pi']['name']}, {kind} sinds {datum(detention['start'])}"
    urgent: list[str] = []
    if case.get("urgent"):
        threat = label(THREAT_LABELS, case.get("threat")) or "Dreiging"
        urgent.append(f"{threat}: de gemeente moet binnen 3 werkdagen beginnen (Wgs).")
    if failed_letters:
        noun = "brief is" if failed_letters == 1 else "brieven zijn"
        urgent.append(f"{failed_letters} {noun} niet gemaakt; zie de tijdlijn voor de reden.")
    if unread and case["state"] != "inventory":
        noun = "antwoord van een schuldeiser is" if unread == 1 else "antwoorden van schuldeisers zijn"
        urgent.append(f"{unread} {noun} nog niet gelezen.")
    sentence = STATE_SENTENCES.get(case["state"], "")
    if case["state"] == "closed" and case.get("closure_reason"):
        sentence = f"Het dossier is afgesloten: {label(CLOSURE_LABELS, case['closure_reason']).lower()}."
    return Overview(
        where=where,
        release=_release(detention, today, datum),
        state=case["state_label"],
        state_sentence=sentence,
        urgent=urgent,
        next_step=_next_step(case, role, debts, unread, allowed),
    )
