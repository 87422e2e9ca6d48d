"""Reference data: the municipalities, the PC4 → municipality table and the public creditors (schulden/data/).

`load_reference_data` is an idempotent upsert: a second run changes nothing and creates no duplicates.
Municipalities are matched by CBS code, postcode areas by PC4, creditors by (name, department). Fields users
maintain (a municipality's team, e-mail and address; a creditor's e-mail) are never touched. Rows that are no
longer in the data are left alone (a merged municipality may still be referenced by old cases).

It flushes, never commits: the caller owns the transaction.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from stdnum.nl import postcode as stdnum_postcode

from schulden.creditors.models import Creditor, CreditorKind
from schulden.debts.models import DebtCategory
from schulden.organisations.models import Organisation, OrganisationKind, PostcodeArea

DATA = Path(__file__).resolve().parent / "data"
MUNICIPALITIES_CSV = DATA / "gemeenten-2025.csv"
POSTCODES_CSV = DATA / "pc4-gemeente-2025-derived.csv"
CREDITORS_CSV = DATA / "correspondentie-adressen.csv"


@dataclass(frozen=True)
class DirectoryEntry:
    """One creditor of the seeded directory, as our letters address it, drawn from one row of the data.

    `row`: the (organisatie, afdeling) of correspondentie-adressen.csv the entry is made from; its address, source and
    grade come from there. The data's `afdeling` describes a purpose ("detentie melden ..."), not a desk a letter can
    be addressed to, so `department` is ours: the desk printed after "t.a.v.", or none. Kind, category and the BSN
    are our classification: government bodies and health insurers use the BSN in their statutory task (Wet
    algemene bepalingen BSN art. 10; Wet gebruik BSN in de zorg), so a letter to them may carry it.
    `channel`: how a helper reaches the creditor where the data has no correspondence address; a letter to it
    becomes the counsellor's task with this channel (issue 12), never a letter to an objection desk.
    """

    row: tuple[str, str]
    name: str
    department: str | None
    kind: CreditorKind
    category: DebtCategory
    may_receive_bsn: bool
    channel: str | None = None


NO_DETENTION_DESK = (
    "Geen detentiepagina en geen postadres gevonden: vraag de klantenservice waar de detentieverklaring heen moet."
)
GOV, INSURER = CreditorKind.GOVERNMENT, CreditorKind.HEALTH_INSURER
PUBLIEK, ZORG = DebtCategory.PUBLIEK, DebtCategory.ZORG
CJIB = "Centraal Justitieel Incassobureau (CJIB)"
TOESLAGEN = "Belastingdienst/Toeslagen"
UWV = "Uitvoeringsinstituut Werknemersverzekeringen (UWV)"
SVB = "Sociale Verzekeringsbank (SVB)"

#: The seeded directory: correspondence addresses only (shared/data README, crediteuren section). Where the data
#: found no correspondence address, the entry names the channel the source gives instead.
DIRECTORY: tuple[DirectoryEntry, ...] = (
    DirectoryEntry(
        (CJIB, "algemeen postadres / correspondentie"), CJIB, None, GOV, PUBLIEK, True,
        "Telefoon (058) 215 95 55 (ma-vr 8-17 uur); e-mail is niet mogelijk; vermeld altijd het zaaknummer.",
    ),
    DirectoryEntry(
        ("Belastingdienst (belastingschulden particulieren)",
         "Invordering: kort uitstel van betaling / betalingsregeling / aanpassing betalingsregeling"),
        "Belastingdienst", None, GOV, PUBLIEK, True,
        "BelastingTelefoon 0800-0543. Uitstel tot 12 maanden alleen met het formulier 'Verzoek uitstel van betaling "
        "voor particulieren'.",
    ),
    DirectoryEntry(
        ("Belastingdienst/Toeslagen (Dienst Toeslagen)",
         "detentie melden (zorgtoeslag, kinderopvangtoeslag, huurtoeslag)"),
        TOESLAGEN, None, GOV, PUBLIEK, True,
        "Detentie melden: in Mijn toeslagen (zoek 'gedetineerd', kies 'Ik of mijn partner wordt gedetineerd'), binnen "
        "4 weken na het begin van de detentie. Terugbetalen: formulier 'Verzoek persoonlijke betalingsregeling "
        "toeslagen', of laat de cliënt (of zijn gemachtigde) de BelastingTelefoon 0800-0543 bellen.",
    ),
    DirectoryEntry(
        ("Dienst Uitvoering Onderwijs (DUO)", "algemeen postadres ('DUO Onderwijsvolgers')"),
        "Dienst Uitvoering Onderwijs (DUO)", None, GOV, PUBLIEK, True,
        "Betalingsachterstand: formulier 'Aanvraag betalingsregeling achterstand studieschuld' (retouradres op het "
        "formulier); DUO werkt alleen met NVVK-aangesloten schuldhulpverleners.",
    ),
    DirectoryEntry(
        ("CAK", "regeling wanbetalers (bestuursrechtelijke premie)"), "CAK", None, GOV, ZORG, True,
        "Geen correspondentieadres van het CAK gevonden (alleen bezwaaradressen: niet gebruiken). De premie wordt "
        "ingehouden op loon of uitkering of via het CJIB geïnd; alleen de zorgverzekeraar kan iemand afmelden. Eigen "
        "bijdrage Wmo/Wlz: telefoon 0800 1925.",
    ),
    DirectoryEntry(
        (UWV, "terugvordering / betalingsregeling / kwijtschelding"), UWV, None, GOV, PUBLIEK, True,
        "Geen postadres gevonden. Betalingsregeling of detentie: bel UWV of gebruik Mijn UWV (uwv.nl, 'Schulden bij "
        "UWV'). DJI meldt nieuwe gedetineerden dagelijks aan UWV.",
    ),
    DirectoryEntry(
        (SVB, "terugvordering / betalingsregeling"), SVB, None, GOV, PUBLIEK, True,
        "Geen centraal postadres gevonden: neem contact op met de SVB; in Mijn SVB staat onder 'Schulden' een "
        "officieel overzicht voor de schuldhulpverlener.",
    ),
    DirectoryEntry(
        ("Zorg en Zekerheid", "detentie: in- en uit-detentieverklaring (basisverzekering stopzetten/hervatten)"),
        "Zorg en Zekerheid", None, INSURER, ZORG, True,
    ),
    DirectoryEntry(
        ("Menzis", "detentie: gevangenschap doorgeven met detentieverklaring"), "Menzis", None, INSURER, ZORG, True,
        "Per brief met detentieverklaring (geen postadres in de bron); na de detentie heractiveren in Mijn Menzis "
        "('Ik ben uit detentie').",
    ),
    DirectoryEntry(
        ("Zilveren Kruis", "bewindvoerders, curators en budgetbeheerders (betalingsachterstand, wijzigingen)"),
        "Zilveren Kruis", None, INSURER, ZORG, True,
        "Telefoon 020 591 43 60 (bewindvoerders en hulpverleners, ma-vr 8.00-17.30 uur); geen postadres gevonden.",
    ),
    DirectoryEntry(
        ("CZ", "detentie"), "CZ", None, INSURER, ZORG, True,
        "Klantenservice 088 555 77 77; geen detentie- of correspondentieadres gevonden (het adres in Tilburg is "
        "alleen voor klachten en geschillen).",
    ),
    DirectoryEntry(
        ("VGZ", "detentie"), "VGZ", None, INSURER, ZORG, True,
        NO_DETENTION_DESK,
    ),
    DirectoryEntry(
        ("DSW", "detentie"), "DSW", None, INSURER, ZORG, True,
        NO_DETENTION_DESK,
    ),
)  # fmt: skip

#: What earlier versions seeded from publieke-schuldeisers-adressen.csv, keyed by (name, department): objection
#: desks (a letter there can be handled as an objection under the Awb) and a second CJIB entry. A reload retires
#: them (inactive), so no new debt can pick them; their old letters keep the address they were sent to.
RETIRED_SEEDS: frozenset[tuple[str, str]] = frozenset(
    {
        (CJIB, "algemeen postadres"),
        (CJIB, "Directie D&I - Incasso (brief 'VZD afschrijving spoed')"),
        (TOESLAGEN, "bezwaar (terugvordering- en voorschotbeschikking)"),
        ("Dienst Uitvoering Onderwijs (DUO)", "afdeling Bezwaar en Beroep"),
        ("CAK", "Afdeling bezwaar (onverzekerden / bestuursrechtelijke premie)"),
        ("CAK", "Afdeling klachten bezwaren en beroep (zorgverzekering buitenland)"),
    }
)

#: Words that mark an objection or complaints desk: never a correspondence address (issue 12).
OBJECTION_DESK_WORDS = ("bezwaar", "beroep", "klacht")


def is_objection_desk(department: str | None) -> bool:
    """Whether a department is an objection or complaints desk, where our letters must never go."""
    lowered = (department or "").lower()
    return any(word in lowered for word in OBJECTION_DESK_WORDS)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _none_if_empty(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def read_municipalities() -> dict[str, dict[str, str]]:
    """CBS code (GM0363) -> {"name", "province"}."""
    return {
        row["gemeentecode_gm"]: {"name": row["gemeentenaam"].strip(), "province": row["provincienaam"].strip()}
        for row in _read(MUNICIPALITIES_CSV)
    }


def read_postcode_areas() -> dict[str, str]:
    """PC4 -> CBS municipality code."""
    return {row["pc4"]: row["gm_code_2025"] for row in _read(POSTCODES_CSV)}


def read_creditors() -> list[dict[str, Any]]:
    """The seeded directory as Creditor column values: each DIRECTORY entry with its row's address and source."""
    rows = {(row["organisatie"].strip(), row["afdeling"].strip()): row for row in _read(CREDITORS_CSV)}
    creditors = []
    for entry in DIRECTORY:
        row = rows.get(entry.row)
        if row is None:
            raise ValueError(f"reference data: no row {entry.row!r} in {CREDITORS_CSV.name} (see DIRECTORY)")
        postcode = _none_if_empty(row["postcode"])
        address_line = _none_if_empty(row["postadres"])
        grade = row["graad"].strip()
        creditors.append(
            {
                "name": entry.name,
                "department": entry.department,
                "kind": entry.kind.value,
                "category": entry.category.value,
                "may_receive_bsn": entry.may_receive_bsn,
                "address_line": address_line,
                "postcode": stdnum_postcode.validate(postcode) if postcode else None,
                "city": _none_if_empty(row["plaats"]),
                "grade": grade if grade in ("A", "B", "C") else None,
                "source_url": _none_if_empty(row["bron"]),
                # An address without its channel is still an address; a channel without an address is the task.
                "channel_note": entry.channel,
                "active": True,
            }
        )
    return creditors


def load_reference_data(session: Session) -> dict[str, int]:
    """Upsert municipalities, postcode areas and the creditor directory, and retire the objection desks seeded
    before; returns counts of what was created, updated and retired."""
    municipalities = read_municipalities()
    areas = read_postcode_areas()
    unknown = sorted({code for code in areas.values() if code not in municipalities})
    if unknown:
        raise ValueError(f"reference data: PC4 rows point to unknown municipality codes {unknown[:5]}")
    counts: dict[str, int] = {}
    counts.update(_upsert_municipalities(session, municipalities))
    counts.update(_upsert_postcode_areas(session, areas))
    counts.update(_upsert_creditors(session, read_creditors()))
    counts.update(_retire_seeds(session))
    session.flush()
    return counts


def _upsert_municipalities(session: Session, rows: dict[str, dict[str, str]]) -> dict[str, int]:
    existing = {
        org.code: org
        for org in session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.MUNICIPALITY.value))
    }
    new = [
        {"kind": OrganisationKind.MUNICIPALITY.value, "code": code, "name": row["name"], "province": row["province"]}
        for code, row in rows.items()
        if code not in existing
    ]
    updated = 0
    for code, row in rows.items():
        org = existing.get(code)
        if org is not None and (org.name, org.province) != (row["name"], row["province"]):
            org.name, org.province = row["name"], row["province"]
            updated += 1
    if new:
        session.execute(insert(Organisation), new)
    return {"municipalities_created": len(new), "municipalities_updated": updated}


def _upsert_postcode_areas(session: Session, rows: dict[str, str]) -> dict[str, int]:
    existing = {
        pc4: (code, approximate)
        for pc4, code, approximate in session.execute(
            select(PostcodeArea.pc4, PostcodeArea.municipality_code, PostcodeArea.approximate)
        )
    }
    new = [
        {"pc4": pc4, "municipality_code": code, "approximate": True}
        for pc4, code in rows.items()
        if pc4 not in existing
    ]
    changed = [
        {"pc4": pc4, "municipality_code": code, "approximate": True}
        for pc4, code in rows.items()
        if pc4 in existing and existing[pc4] != (code, True)
    ]
    if new:
        session.execute(insert(PostcodeArea), new)
    if changed:
        session.execute(update(PostcodeArea), changed)
    return {"postcode_areas_created": len(new), "postcode_areas_updated": len(changed)}


def _retire_seeds(session: Session) -> dict[str, int]:
    retired = 0
    seeded = select(Creditor).where(Creditor.active.is_(True), Creditor.source_url.is_not(None))
    for creditor in session.scalars(seeded):
        if (creditor.name, creditor.department or "") in RETIRED_SEEDS:
            creditor.active = False
            retired += 1
    return {"creditors_retired": retired}


def _upsert_creditors(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    # Should (name, department) occur twice (users can add creditors), the oldest row is the seeded one.
    existing: dict[tuple[str, str | None], Creditor] = {}
    names = {row["name"] for row in rows}
    for found in session.scalars(select(Creditor).where(Creditor.name.in_(names)).order_by(Creditor.id.desc())):
        existing[(found.name, found.department)] = found
    created = updated = 0
    for row in rows:
        creditor = existing.get((row["name"], row["department"]))
        if creditor is None:
            new = Creditor(**row)
            session.add(new)
            existing[(row["name"], row["department"])] = new
            created += 1
            continue
        changed = False
        for field, value in row.items():
            if getattr(creditor, field) != value:
                setattr(creditor, field, value)
                changed = True
        updated += changed
    return {"creditors_created": created, "creditors_updated": updated}
