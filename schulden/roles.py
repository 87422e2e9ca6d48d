"""The roles a user can have (security.md Part 2). One role per account keeps every permission explainable."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PI_STAFF = "pi_staff"  # casemanager or re-integration centre staff of a PI
    VOLUNTEER = "volunteer"  # enters data under a PI; sends nothing
    COUNSELLOR = "counsellor"  # debt counsellor running the case
    MUNICIPALITY = "municipality"  # the municipality's debt counselling team
    PARTNER = "partner"  # probation or care partner, reads linked cases
    ADMIN = "admin"  # functional administrator: users, reference data; no case content by default

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Role.PI_STAFF: "Medewerker PI",
    Role.VOLUNTEER: "Vrijwilliger",
    Role.COUNSELLOR: "Schuldhulpverlener",
    Role.MUNICIPALITY: "Gemeente",
    Role.PARTNER: "Ketenpartner",
    Role.ADMIN: "Beheerder",
}
