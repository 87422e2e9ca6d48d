"""An organisation whose staff use Schuldroute, or that receives referrals (a municipality)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class OrganisationKind(StrEnum):
    PI = "pi"  # penitentiaire inrichting
    MUNICIPALITY = "municipality"
    PROBATION = "probation"  # reclassering
    CARE = "care"
    OPERATOR = "operator"  # the organisation running Schuldroute (its counsellors and administrators)


class Organisation(Base):
    """`code` is the CBS code for a municipality (GM + 4 digits), the DJI location code for a PI."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    # A municipality's debt counselling team: where referrals go (domain.md 7.1, "per-gemeente contact table").
    team_name: Mapped[str | None] = mapped_column(String(200))
    address_line: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(7))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    # A PI works with one debt counselling team (an operator organisation); its cases go to that team.
    counselling_team_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "code"),
        CheckConstraint(
            "kind IN ('pi', 'municipality', 'probation', 'care', 'operator')",
            name="kind_known",
        ),
    )


class PostcodeArea(Base):
    """PC4 area -> municipality. Approximate: a PC4 area can cross a municipal border (domain.md 7.3)."""

    __tablename__ = "postcode_area"

    pc4: Mapped[str] = mapped_column(String(4), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    approximate: Mapped[bool] = mapped_column(default=True)
