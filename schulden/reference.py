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
CREDITORS_CSV = DATA / "publieke-schuldeisers-graad-a.csv"


@dataclass(frozen=True)
class CreditorClass:
    kind: CreditorKind
    category: DebtCategory
    may_receive_bsn: bool


#: Our classification of the public creditors in the data (domain.md 2.2). All are administrative bodies
#: (overheidsorganen) that use the BSN in carrying out their statutory task (Wet algemene bepalingen BSN, art. 10),
#: so a letter to them may carry it. A row of a creditor not named here stops the load: someone must decide which
#: kind and category it is and whether it may receive the BSN; there is no silent default.
CREDITOR_CLASSES: dict[str, CreditorClass] = {
    "Centraal Justitieel Incassobureau (CJIB)": CreditorClass(CreditorKind.GOVERNMENT, DebtCategory.PUBLIEK, True),
    "Belastingdienst/Toeslagen": CreditorClass(CreditorKind.GOVERNMENT, DebtCategory.PUBLIEK, True),
    "Dienst Uitvoering Onderwijs (DUO)": CreditorClass(CreditorKind.GOVERNMENT, DebtCategory.PUBLIEK, True),
    # The CAK collects the bestuursrechtelijke zorgpremie: a health debt in DDAS terms (debt type zorgpremie).
    "CAK": CreditorClass(CreditorKind.GOVERNMENT, DebtCategory.ZORG, True),
}

#: Only addresses confirmed on an official page seed the directory (shared/data README: grade A).
SEED_GRADE = "A"


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
    """The grade A public creditors as Creditor column values."""
    creditors = []
    for row in _read(CREDITORS_CSV):
        if row["betrouwbaarheid"] != SEED_GRADE:
            continue
        name = row["organisatie"].strip()
        if name not in CREDITOR_CLASSES:
            raise ValueError(f"reference data: no classification for creditor {name!r} (see CREDITOR_CLASSES)")
        cls = CREDITOR_CLASSES[name]
        postcode = _none_if_empty(row["postcode"])
        creditors.append(
            {
                "name": name,
                "department": _none_if_empty(row["afdeling_of_doel"]),
                "kind": cls.kind.value,
                "category": cls.category.value,
                "may_receive_bsn": cls.may_receive_bsn,
                "address_line": _none_if_empty(row["adresregel"]),
                "postcode": stdnum_postcode.validate(postcode) if postcode else None,
                "city": _none_if_empty(row["plaats"]),
                "grade": SEED_GRADE,
                "source_url": _none_if_empty(row["bron_url"]),
            }
        )
    return creditors


def load_reference_data(session: Session) -> dict[str, int]:
    """Upsert municipalities, postcode areas and grade A creditors; returns counts of what was created/updated."""
    municipalities = read_municipalities()
    areas = read_postcode_areas()
    unknown = sorted({code for code in areas.values() if code not in municipalities})
    if unknown:
        raise ValueError(f"reference data: PC4 rows point to unknown municipality codes {unknown[:5]}")
    counts: dict[str, int] = {}
    counts.update(_upsert_municipalities(session, municipalities))
    counts.update(_upsert_postcode_areas(session, areas))
    counts.update(_upsert_creditors(session, read_creditors()))
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
