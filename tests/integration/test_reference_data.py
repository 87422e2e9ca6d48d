"""Reference data: the 342 municipalities, the PC4 table and the creditor directory, loaded idempotently."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.creditors.models import Creditor, CreditorKind
from schulden.debts.models import DebtCategory
from schulden.organisations.models import Organisation, OrganisationKind, PostcodeArea
from schulden.reference import DIRECTORY, load_reference_data
from schulden.routing import propose_municipality


def _municipalities(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.MUNICIPALITY.value)))


def _directory_entries() -> int:
    return len(DIRECTORY)


def test_loading_twice_gives_the_same_rows_and_no_duplicates(session: Session) -> None:
    load_reference_data(session)
    municipalities = {m.code: m.id for m in _municipalities(session)}
    creditors = {(c.name, c.department): (c.id, c.row_version) for c in session.scalars(select(Creditor))}

    second = load_reference_data(session)

    assert all(count == 0 for count in second.values()), second
    assert len(municipalities) == 342
    assert {m.code: m.id for m in _municipalities(session)} == municipalities
    assert session.scalar(select(func.count()).select_from(PostcodeArea)) == 4053
    assert session.scalar(select(func.count()).select_from(Creditor)) == _directory_entries() == 13
    # Nothing was rewritten: the row versions did not move.
    assert {(c.name, c.department): (c.id, c.row_version) for c in session.scalars(select(Creditor))} == creditors


def test_spot_checks(session: Session) -> None:
    load_reference_data(session)

    amsterdam = session.scalar(select(Organisation).where(Organisation.code == "GM0363"))
    assert amsterdam is not None
    assert (amsterdam.kind, amsterdam.name, amsterdam.province) == ("municipality", "Amsterdam", "Noord-Holland")
    zwolle_area = session.get(PostcodeArea, "8011")
    assert zwolle_area is not None
    assert (zwolle_area.municipality_code, zwolle_area.approximate) == ("GM0193", True)
    proposal = propose_municipality(session, intended_postcode="8011 AB", registration_municipality=None)
    assert proposal.municipality is not None
    assert proposal.municipality.name == "Zwolle"

    cjib = session.scalar(select(Creditor).where(Creditor.name.contains("CJIB"), Creditor.department.is_(None)))
    assert cjib is not None
    assert cjib.may_receive_bsn is True
    assert (cjib.kind, cjib.category, cjib.grade) == (CreditorKind.GOVERNMENT, DebtCategory.PUBLIEK, "A")
    assert cjib.channel_note is not None
    assert "zaaknummer" in cjib.channel_note
    assert (cjib.address_line, cjib.postcode, cjib.city) == ("Postbus 1794", "8901 CB", "Leeuwarden")
    assert cjib.source_url is not None
    assert cjib.source_url.startswith("http")
    assert cjib.takes_email is False
    assert cjib.email is None
    cak = session.scalars(select(Creditor).where(Creditor.name == "CAK")).all()
    assert {c.category for c in cak} == {DebtCategory.ZORG}
    # No correspondence address for the CAK in any official source: no address, the channel instead.
    assert [(c.address_line, bool(c.channel_note)) for c in cak] == [(None, True)]
    # Every seeded creditor names where its address comes from.
    assert session.scalar(select(func.count()).select_from(Creditor).where(Creditor.source_url.is_(None))) == 0


def test_existing_rows_are_matched_and_what_users_keep_is_kept(session: Session) -> None:
    """A municipality is matched by code, a creditor by (name, department); the team and the e-mail stay."""
    amsterdam = Organisation(
        kind=OrganisationKind.MUNICIPALITY.value, code="GM0363", name="Amsterdam (oud)", team_name="Schuldhulp Noord"
    )
    cjib = Creditor(
        name="Centraal Justitieel Incassobureau (CJIB)",
        department=None,
        category=DebtCategory.OVERIG.value,
        takes_email=True,
        email="post@cjib.example",
    )
    session.add_all([amsterdam, cjib])
    session.flush()

    counts = load_reference_data(session)

    assert counts["municipalities_created"] == 341
    assert counts["municipalities_updated"] == 1
    assert counts["creditors_created"] == 12
    assert counts["creditors_updated"] == 1
    session.refresh(amsterdam)
    session.refresh(cjib)
    assert (amsterdam.name, amsterdam.team_name) == ("Amsterdam", "Schuldhulp Noord")
    assert (cjib.category, cjib.may_receive_bsn, cjib.email) == ("publiek", True, "post@cjib.example")
    assert session.scalar(select(func.count()).select_from(Organisation).where(Organisation.code == "GM0363")) == 1


def test_loading_is_fast(session: Session) -> None:
    """About 4,400 rows in bulk: well under a second on either backend (a loose bound against regressions)."""
    started = time.perf_counter()
    load_reference_data(session)
    load_reference_data(session)
    assert time.perf_counter() - started < 3.0
