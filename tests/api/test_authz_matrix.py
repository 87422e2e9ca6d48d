"""Nobody sees another's cases: the IDOR matrix, list leakage, field-level BSN rules and mass assignment
(security.md 2.3; Part 3 scenarios 1, 2 and 7).

The expected outcome of every call comes from the oracle in tests/api/world.py (security.md 2.1), never from
schulden.access. Every rule under /api/v1 must be classified in ROUTES: a new endpoint without a classification
fails `test_every_api_route_is_classified`, so it cannot slip past the matrix.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from schulden.audit import AuditEntry
from schulden.cases.models import (
    Case,
    CaseNote,
    CasePartner,
    Consent,
    Detainee,
    HouseholdMember,
    Transfer,
)
from schulden.creditors.models import Creditor
from schulden.db import Base
from schulden.debts.models import Debt
from schulden.roles import Role
from tests.api.world import (
    BSN_ROLES,
    PRINCIPALS,
    SHARED_PREFIX,
    World,
    WorldCase,
    WorldUser,
    build_world,
    may_read,
    may_reveal_bsn,
)
from workflows import WorkflowInstance

API = "/api/v1"
NOT_FOUND_BODY = {"type": "about:blank", "title": "Niet gevonden", "status": 404}
#: Ids that exist nowhere: an ordinary one and the largest the id columns (32-bit INTEGER) can hold.
MISSING_IDS = (987_654, 2**31 - 1)
#: Ids no row can have: 0, beyond the 32-bit id columns, beyond 64 bits (test_ids_beyond_the_id_columns_are_not_found).
IMPOSSIBLE_IDS = (0, 2**31, 2**63, 2**70)

# -- the function level: which roles may call a route at all (security.md 2.1 and the domain) -----------------------

ALL = frozenset(Role)
#: Roles that enter and change case data (volunteers enter data; they send nothing and sign nothing off).
CASE_EDITORS = frozenset({Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR})
#: Roles that record consent, transfers and partner links (the casemanager and the counsellor).
CASE_MANAGERS = frozenset({Role.PI_STAFF, Role.COUNSELLOR})
CREDITOR_EDITORS = frozenset({Role.COUNSELLOR, Role.PI_STAFF, Role.ADMIN})


@dataclass(frozen=True)
class Route:
    """How to call one (endpoint, method) and what to expect.

    kind: the object in the URL ("case", "debt", "letter", "print_batch", "creditor", "municipality",
    "organisation"), or "none" for a rule without one.
    roles: the roles that may call it at all (others get 403; for a case object they may also get 404 first).
    ok: the statuses an allowed principal gets with the body below. The bodies are valid for the schema but
    are refused further on (no If-Match, a stale If-Match, a date before the detention) so the matrix changes
    nothing: what it proves is that the scope check came first.
    """

    kind: str
    roles: frozenset[Role] = ALL
    ok: frozenset[int] = frozenset({200})
    body: Callable[[World], dict[str, Any]] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: Whether the matrix calls it per object (False: covered by dedicated tests, e.g. the list and the login).
    matrix: bool = True


#: A version no row ever has: the write is refused with 412 after the scope check, and changes nothing.
STALE = (("If-Match", '"0"'),)


ROUTES: dict[tuple[str, str], Route] = {
    # -- without an object id: function level only, or dedicated tests --
    ("auth.Token", "POST"): Route("none", matrix=False),  # the login itself (world.token)
    ("auth.Token", "DELETE"): Route("none", matrix=False),  # revokes the caller's own token only
    ("cases.Cases", "GET"): Route("none", matrix=False),  # test_case_list_shows_exactly_the_oracles_cases
    ("cases.CaseSearch", "POST"): Route("none", matrix=False),  # test_case_list_shows_exactly_the_oracles_cases
    ("cases.Cases", "POST"): Route("none", CASE_EDITORS, matrix=False),  # test_function_level_denials
    ("creditors.Creditors", "GET"): Route("none", matrix=False),
    ("creditors.Creditors", "POST"): Route("none", CREDITOR_EDITORS, matrix=False),
    ("municipalities.Municipalities", "GET"): Route("none", matrix=False),
    ("municipalities.Proposal", "GET"): Route("none", matrix=False),
    # Teams and PIs are set up by an administrator only: tests/api/test_organisation_setup_api.py.
    ("organisations.Organisations", "GET"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    ("organisations.Teams", "POST"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    ("organisations.Pis", "POST"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    # Outcome figures: counts over the caller's own scope; scope and roles in tests/api/test_figures_api.py.
    ("figures.OutcomeFigures", "GET"): Route(
        "none", frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY, Role.ADMIN}), matrix=False
    ),
    ("figures.OutcomeFiguresCsv", "GET"): Route(
        "none", frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY, Role.ADMIN}), matrix=False
    ),
    # -- a case --
    ("cases.CaseDetail", "GET"): Route("case"),
    ("cases.CaseDetail", "PATCH"): Route(
        "case", CASE_EDITORS, frozenset({428}), lambda w: {"dji_number": "DJI-MATRIX-1"}
    ),
    # Correcting the person (AVG art. 16): his casemanager and counsellor, with If-Match (412 stale: no change).
    ("cases.CaseIdentity", "PATCH"): Route(
        "case", CASE_MANAGERS, frozenset({412}), lambda w: {"surname": "Matrix"}, STALE
    ),
    ("cases.CaseBsn", "GET"): Route("case", BSN_ROLES),
    ("cases.CaseHistory", "GET"): Route("case"),
    ("cases.CaseActions", "GET"): Route("case"),
    ("cases.CaseEvents", "POST"): Route(
        "case",
        ALL,
        frozenset({412}),
        lambda w: {"event": "flag_threat", "payload": {"threat": "eviction"}},
        STALE,
    ),
    ("cases.CaseConsents", "GET"): Route("case"),
    ("cases.CaseConsents", "POST"): Route(
        "case",
        CASE_MANAGERS,
        frozenset({422}),
        # Valid for the schema; the service refuses it (valid_until before signed_on).
        lambda w: {
            "purposes": [{"purpose": "contact_creditors"}],
            "signed_on": "2026-01-12",
            "valid_until": "2025-01-01",
        },
    ),
    ("cases.ConsentWithdrawal", "POST"): Route(
        "case", CASE_MANAGERS, frozenset({422}), lambda w: {"consent_ids": [987_654]}
    ),
    ("cases.CaseHousehold", "GET"): Route("case"),
    ("cases.CaseHousehold", "PUT"): Route(
        "case",
        CASE_EDITORS,
        frozenset({422}),
        lambda w: {"members": [{"relation": "partner"}, {"relation": "partner"}]},
    ),
    ("conditions.CaseReleaseConditions", "GET"): Route("case"),
    ("conditions.CaseReleaseConditions", "PUT"): Route(
        "case", CASE_EDITORS, frozenset({428}), lambda w: {"care_arranged": "arranged"}
    ),
    ("consent_forms.ReferralConsentForm", "POST"): Route("case", CASE_MANAGERS, frozenset({412}), None, STALE),
    ("insurance.CaseInsurance", "GET"): Route("case"),
    ("insurance.CaseInsurance", "PUT"): Route(
        "case", CASE_EDITORS, frozenset({422}), lambda w: {"health_insurer_id": 987_654}
    ),
    ("knooppunt.CaseExport", "GET"): Route("case"),
    # The detainee's access overview (AVG art. 15): his casemanager and counsellor only; 403 for the other roles.
    ("access_export.AccessExport", "GET"): Route("case", CASE_MANAGERS),
    ("access_export.AccessExportPdf", "GET"): Route("case", CASE_MANAGERS),
    # A legal hold stops the retention job erasing the case (docs/privacy.md): the counsellor, with If-Match.
    ("legal_hold.CaseLegalHold", "PUT"): Route(
        "case", frozenset({Role.COUNSELLOR}), frozenset({412}), lambda w: {"kind": "dispute"}, STALE
    ),
    ("legal_hold.CaseLegalHold", "DELETE"): Route("case", frozenset({Role.COUNSELLOR}), frozenset({412}), None, STALE),
    ("release.CaseRelease", "POST"): Route(
        "case", CASE_MANAGERS, frozenset({412}), lambda w: {"released_on": "2026-01-05"}, STALE
    ),
    ("release.LetterSentManually", "POST"): Route("letter", frozenset({Role.COUNSELLOR}), frozenset({409})),
    ("cases.CaseNotes", "GET"): Route("case"),
    ("cases.CaseNotes", "POST"): Route(
        "case", CASE_EDITORS | {Role.MUNICIPALITY}, frozenset({422}), lambda w: {"body": "   "}
    ),
    ("cases.CaseTransfers", "POST"): Route(
        "case",
        CASE_MANAGERS,
        frozenset({422}),
        lambda w: {"to_pi_id": w.orgs["PI-B"], "transferred_on": "1990-01-01"},
    ),
    ("cases.CaseMunicipality", "PUT"): Route(
        "case",
        frozenset({Role.COUNSELLOR}),
        frozenset({428}),
        lambda w: {"municipality_id": w.orgs["M-2"], "reason": "matrix"},
    ),
    ("cases.CasePartners", "POST"): Route(
        "case", CASE_MANAGERS, frozenset({422}), lambda w: {"organisation_id": w.orgs["M-1"]}
    ),
    ("debts.CaseDebts", "GET"): Route("case"),
    ("debts.CaseDebts", "POST"): Route(
        "case", CASE_EDITORS, frozenset({422}), lambda w: {"creditor_id": 987_654, "debt_type": "huur"}
    ),
    # -- a debt (scope: its case) --
    ("debts.DebtDetail", "GET"): Route("debt"),
    ("debts.DebtDetail", "PATCH"): Route("debt", CASE_EDITORS, frozenset({428}), lambda w: {"principal_cents": 1}),
    ("debts.DebtActions", "GET"): Route("debt"),
    ("debts.DebtEvents", "POST"): Route("debt", ALL, frozenset({412}), lambda w: {"event": "send_letters"}, STALE),
    # -- letters (scope: their case) and print batches (scope: the PI, or its counselling team) --
    ("letters.CaseLetters", "GET"): Route("case"),
    ("letters.FailedLetters", "GET"): Route("none", matrix=False),  # test_case_list_shows_exactly_the_oracles_cases
    # Queued, not rendered: 409 "not ready yet" (a rendered one would be 200).
    ("letters.LetterPdf", "GET"): Route("letter", ok=frozenset({200, 409})),
    # Only a failed letter can be retried: 409 for the world's queued letters, so nothing changes.
    ("letters.LetterRetry", "POST"): Route("letter", frozenset({Role.COUNSELLOR}), frozenset({409})),
    ("letters.PrintBatches", "POST"): Route("none", CASE_MANAGERS, matrix=False),  # test_function_level_denials
    # Every failed letter by kind, and all of a kind made again at once: administrators only, 403 before the body
    # is read (tests/api/test_bulk_retry_api.py).
    ("letters.FailedLetterGroups", "GET"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    ("letters.FailedLettersRetry", "POST"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    ("letters.PrintBatchPdf", "GET"): Route("print_batch"),  # the world has no batches: 404 for everyone
    # -- creditor replies (scope: their case) and referrals (scope: their case, for a municipality also its own) --
    ("replies.CaseReplies", "GET"): Route("case"),
    # A received date in the future: refused by the service after the scope check, nothing stored.
    ("replies.DebtReplies", "POST"): Route(
        "debt",
        frozenset({Role.COUNSELLOR}),
        frozenset({422}),
        lambda w: {"channel": "post", "received_on": "2099-01-01", "note": "matrix"},
    ),
    ("replies.ReplyDetail", "GET"): Route("reply"),  # the world has no replies: 404 for everyone
    ("replies.ReplyReview", "POST"): Route("reply", frozenset({Role.COUNSELLOR})),
    ("replies.ReplyConfirm", "POST"): Route("reply", frozenset({Role.COUNSELLOR}), frozenset({412}), None, STALE),
    ("replies.ReplyDecision", "POST"): Route(
        "reply", frozenset({Role.COUNSELLOR}), frozenset({412}), lambda w: {"step": "agree"}, STALE
    ),
    ("replies.ReplyReclaimDebt", "POST"): Route("reply", frozenset({Role.COUNSELLOR}), frozenset({201})),
    ("replies.ReplyAttachment", "GET"): Route("reply"),
    # Revoking a code changes no case, debt or letter status: 204 where the letter is in scope.
    ("replies.RevokeCode", "POST"): Route("letter", frozenset({Role.COUNSELLOR}), frozenset({204})),
    ("referrals.CaseReferrals", "GET"): Route("case"),
    # No world case is due for referral (inventory, or referred already): the workflow refuses with 409.
    ("referrals.CaseReferrals", "POST"): Route(
        "case", frozenset({Role.COUNSELLOR}), frozenset({409}), lambda w: {"include_district_team": False}
    ),
    ("referrals.Inbox", "GET"): Route("none", matrix=False),  # tests/api/test_referral_story.py
    ("referrals.Tasks", "GET"): Route("none", matrix=False),  # tests/api/test_referral_story.py
    ("referrals.ReferralDetail", "GET"): Route("referral"),  # scope per referral: tests/api/test_referral_story.py
    ("referrals.Accept", "POST"): Route(
        "referral", frozenset({Role.MUNICIPALITY}), body=lambda w: {"first_conversation_on": "2026-12-01"}
    ),
    ("referrals.Refuse", "POST"): Route(
        "referral", frozenset({Role.MUNICIPALITY}), body=lambda w: {"kind": "other", "reason": "matrix"}
    ),
    ("referrals.Retry", "POST"): Route("referral", frozenset({Role.COUNSELLOR})),
    ("referrals.HandoverPdf", "GET"): Route("referral"),
    ("referrals.HandoverContents", "GET"): Route(
        "referral", frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY})
    ),
    ("referrals.Readiness", "GET"): Route("case"),
    ("referrals.SummaryPdf", "GET"): Route("referral"),
    ("referrals.Delivery", "PUT"): Route("municipality", frozenset({Role.ADMIN}), body=lambda w: {"channel": "email"}),
    # -- reference data: any signed-in user reads; a few roles correct --
    ("creditors.CreditorById", "GET"): Route("creditor"),
    # Contact data (here the city) is the administrator's; others propose (tests/api/test_creditor_changes.py).
    ("creditors.CreditorById", "PATCH"): Route(
        "creditor", frozenset({Role.ADMIN}), frozenset({428}), lambda w: {"city": "Utrecht"}
    ),
    # An empty proposal is refused (422) after the creditor is found: the matrix stores no proposal.
    ("creditors.CreditorProposals", "POST"): Route("creditor", CREDITOR_EDITORS, frozenset({422}), lambda w: {}),
    ("creditors.ChangeProposals", "GET"): Route("none", frozenset({Role.ADMIN}), matrix=False),
    ("creditors.ChangeProposalById", "GET"): Route("creditor_change_proposal", frozenset({Role.ADMIN})),
    ("creditors.ApproveChangeProposal", "POST"): Route("creditor_change_proposal", frozenset({Role.ADMIN})),
    ("creditors.RejectChangeProposal", "POST"): Route("creditor_change_proposal", frozenset({Role.ADMIN})),
    ("municipalities.MunicipalityById", "GET"): Route("municipality"),
    # The administrator, or the municipality's own users for their own municipality (see _may_edit_municipality).
    ("municipalities.MunicipalityById", "PATCH"): Route(
        "municipality", frozenset({Role.ADMIN, Role.MUNICIPALITY}), frozenset({428}), lambda w: {"city": "Utrecht"}
    ),
    # A team or a PI as the administrator set it up; a municipality is not one (404).
    ("organisations.OrganisationById", "GET"): Route("organisation", frozenset({Role.ADMIN})),
}


def api_rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") or rule.rule == API:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method


# -- the inventory -----------------------------------------------------------------------------------------------------


def test_every_api_route_is_classified(app: Flask) -> None:
    """A new endpoint under /api/v1 fails here until ROUTES says how to test its authorization."""
    found = {(rule.endpoint, method) for rule, method in api_rules(app)}
    unclassified = sorted(found - set(ROUTES))
    assert not unclassified, f"classify these in ROUTES (tests/api/test_authz_matrix.py): {unclassified}"
    stale = sorted(set(ROUTES) - found)
    assert not stale, f"ROUTES names endpoints that no longer exist: {stale}"
    for rule, method in api_rules(app):
        route = ROUTES[(rule.endpoint, method)]
        params = set(rule.arguments)
        # A rule with an object id is in the matrix, with the right kind of object.
        expected_kind = {
            frozenset(): "none",
            frozenset({"case_id"}): "case",
            frozenset({"debt_id"}): "debt",
            frozenset({"creditor_id"}): "creditor",
            frozenset({"municipality_id"}): "municipality",
            frozenset({"letter_id"}): "letter",
            frozenset({"batch_id"}): "print_batch",
            frozenset({"reply_id"}): "reply",
            frozenset({"referral_id"}): "referral",
            frozenset({"proposal_id"}): "creditor_change_proposal",
            frozenset({"organisation_id"}): "organisation",
        }.get(frozenset(params))
        assert expected_kind == route.kind, (rule.rule, method, params, route.kind)
        assert route.matrix or route.kind == "none", (rule.rule, method)


# -- the matrix --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One object in a URL: its id, the world case it belongs to (None: reference data or absent), whether it
    exists, and the strings that must not leak."""

    id: int
    case: WorldCase | None
    exists: bool
    org_key: str | None = None


def _targets(world: World, kind: str) -> list[Target]:
    missing = [Target(i, None, exists=False) for i in MISSING_IDS]
    if kind == "case":
        return [Target(c.id, c, exists=True) for c in world.cases.values()] + missing
    if kind == "debt":
        return [Target(d.id, world.case_of_debt(d), exists=True) for d in world.debts()] + missing
    if kind == "letter":
        return [Target(letter_id, case, exists=True) for letter_id, case in world.letters()] + missing
    if kind in ("print_batch", "reply", "referral", "creditor_change_proposal"):
        return missing
    if kind == "creditor":
        return [Target(i, None, exists=True) for i in world.creditor_ids] + missing
    if kind == "municipality":
        municipalities = [Target(world.orgs[k], None, exists=True, org_key=k) for k in ("M-1", "M-2")]
        # A PI's id is an organisation, but not a municipality: not found under /municipalities.
        return [*municipalities, Target(world.orgs["PI-A"], None, exists=False, org_key="PI-A"), *missing]
    if kind == "organisation":
        set_up = [Target(world.orgs[k], None, exists=True, org_key=k) for k in ("team-1", "PI-A")]
        # A municipality is an organisation, but not one set up under /organisations: not found there.
        return [*set_up, Target(world.orgs["M-1"], None, exists=False, org_key="M-1"), *missing]
    raise AssertionError(kind)


def _may_call(route: Route, endpoint: str, method: str, user: WorldUser, target: Target) -> bool:
    """The function level; for a municipality's own details it depends on the object (no case data involved)."""
    if endpoint == "municipalities.MunicipalityById" and method == "PATCH":
        return user.role is Role.ADMIN or (user.role is Role.MUNICIPALITY and user.org_key == target.org_key)
    return user.role in route.roles


def expected(route: Route, endpoint: str, method: str, user: WorldUser, target: Target) -> frozenset[int]:
    """The statuses the oracle allows for this principal, route and object."""
    allowed = _may_call(route, endpoint, method, user, target)
    if route.kind in ("case", "debt", "letter", "print_batch", "reply", "referral"):
        readable = target.case is not None and may_read(user, target.case)
        if not allowed:
            # Denied by role: 403; a scope check that comes first may answer 404 instead (no existence oracle).
            return frozenset({403}) if readable else frozenset({403, 404})
        return route.ok if readable else frozenset({404})
    # Reference data: any signed-in user may read it; absent is 404 for everyone allowed.
    if not allowed:
        return frozenset({403})
    return route.ok if target.exists else frozenset({404})


def _all_secrets(world: World) -> list[str]:
    return [s for case in world.cases.values() for s in case.secrets()]


def _snapshot(db: sessionmaker[Session]) -> dict[str, Any]:
    """What the matrix must leave untouched: every case and debt row's version and scope columns, and the
    number of rows the write endpoints would add."""
    with db() as session:
        cases = session.execute(
            select(
                Case.id,
                Case.row_version,
                Case.pi_id,
                Case.team_id,
                Case.municipality_id,
                Case.referred_at,
                Case.expected_release,
                WorkflowInstance.state,
            ).join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        ).all()
        debts = session.execute(select(Debt.id, Debt.row_version, Debt.case_id, Debt.principal_cents)).all()
        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Case, Debt, Detainee, Consent, CaseNote, HouseholdMember, Transfer, CasePartner, Creditor)
        }
        letter = Base.metadata.tables.get("letter")
        letters = (
            session.execute(select(letter.c.id, letter.c.status, letter.c.attempts).order_by(letter.c.id)).all()
            if letter is not None
            else []
        )
        return {
            "cases": sorted(map(tuple, cases)),
            "debts": sorted(map(tuple, debts)),
            "letters": [tuple(row) for row in letters],
            "counts": counts,
        }


def test_idor_matrix(app: Flask, client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Every principal x every object route x every object: the oracle's answer, nothing more (scenario 1)."""
    world = build_world(db)
    secrets = _all_secrets(world)
    before = _snapshot(db)
    rules = {(rule.endpoint, method): rule for rule, method in api_rules(app)}
    mismatches: list[str] = []
    denied_404: Counter[tuple[str, str, str, str, str]] = Counter()
    calls = 0
    for username in PRINCIPALS:
        user = world.users[username]
        headers = world.headers(client, username)
        for (endpoint, method), route in ROUTES.items():
            if not route.matrix:
                continue
            rule = rules[(endpoint, method)]
            for target in _targets(world, route.kind):
                (param,) = rule.arguments
                url = rule.build({param: target.id}, append_unknown=False)[1]
                body = route.body(world) if route.body else None
                response = client.open(url, method=method, json=body, headers={**headers, **dict(route.headers)})
                calls += 1
                status = response.status_code
                want = expected(route, endpoint, method, user, target)
                where = f"{username} {method} {url} ({route.kind} {target.case.key if target.case else target.id})"
                if status not in want:
                    mismatches.append(
                        f"{where}: {status}, expected {sorted(want)}: {response.get_data(as_text=True)[:200]}"
                    )
                    continue
                if status in (403, 404):
                    text = response.get_data(as_text=True)
                    leaked = [s for s in secrets if s in text]
                    if leaked:
                        mismatches.append(f"{where}: {status} body leaks {leaked}")
                    if status == 404 and response.json != NOT_FOUND_BODY:
                        mismatches.append(f"{where}: 404 body is not the plain problem: {text[:200]}")
                if status == 404:
                    denied_404[(user.actor_id, route.kind, str(target.id), method, endpoint)] += 1
    assert not mismatches, f"{len(mismatches)} of {calls} calls differ from the oracle:\n" + "\n".join(mismatches)

    # One authz_denied row per 404 (security.md 2.1: out of scope answers 404 and is logged, ASVS 16.3.2).
    with db() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "authz_denied")).all()
        logged = Counter(
            (row.actor_id, row.object_type, row.object_id, row.details.get("method"), row.details.get("endpoint"))
            for row in rows
            if row.result == "denied"
        )
        not_denied = [row.id for row in rows if row.result != "denied"]
    assert not not_denied, f"authz_denied rows without result 'denied': {not_denied}"
    missing = denied_404 - logged
    extra = logged - denied_404
    assert not missing, f"404s without an authz_denied audit row: {sorted(missing)[:20]}"
    assert not extra, f"authz_denied rows without a 404: {sorted(extra)[:20]}"

    # The matrix changed nothing: the write calls were refused (scope first, then If-Match or a service rule).
    assert _snapshot(db) == before


def test_function_level_denials(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Roles that may never create a case or a creditor get 403, and nothing is created."""
    world = build_world(db)
    before = _snapshot(db)
    for username in PRINCIPALS:
        user = world.users[username]
        headers = world.headers(client, username)
        if user.role not in ROUTES[("cases.Cases", "POST")].roles:
            response = client.post(f"{API}/cases", json=_valid_case(world), headers=headers)
            assert response.status_code == 403, (username, response.status_code, response.json)
        if user.role not in ROUTES[("letters.PrintBatches", "POST")].roles:
            response = client.post(f"{API}/print-batches", json={"pi_id": world.orgs["PI-A"]}, headers=headers)
            assert response.status_code == 403, (username, response.status_code, response.json)
        if user.role not in ROUTES[("creditors.Creditors", "POST")].roles:
            response = client.post(
                f"{API}/creditors", json={"name": "Nieuwe Schuldeiser", "category": "overig"}, headers=headers
            )
            assert response.status_code == 403, (username, response.status_code, response.json)
        for path in ("/cases", "/creditors", "/municipalities", "/municipalities/proposal"):
            assert client.get(API + path, headers=headers).status_code == 200, (username, path)
        assert client.post(f"{API}/cases/search", json={"surname": "J"}, headers=headers).status_code == 200
    assert _snapshot(db) == before


def test_every_api_route_needs_a_token(app: Flask, client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Without a bearer token (or with a wrong one) every route but the login answers 401 and shows nothing."""
    world = build_world(db)
    secrets = _all_secrets(world)
    case_id = world.cases["a_only"].id
    debt_id = world.cases["a_only"].debts[0].id
    ids = {
        "case_id": case_id,
        "debt_id": debt_id,
        "creditor_id": world.creditor_ids[0],
        "municipality_id": world.orgs["M-1"],
        "letter_id": world.cases["a_only"].letters[0],
        "batch_id": 1,
        "reply_id": 1,
        "referral_id": 1,
        "proposal_id": 1,
        "organisation_id": world.orgs["PI-A"],
    }
    before = _snapshot(db)
    for rule, method in api_rules(app):
        if (rule.endpoint, method) == ("auth.Token", "POST"):
            continue
        route = ROUTES[(rule.endpoint, method)]
        url = rule.build({k: v for k, v in ids.items() if k in rule.arguments}, append_unknown=False)[1]
        body = route.body(world) if route.body else ({} if method != "GET" else None)
        if (rule.endpoint, method) == ("cases.Cases", "POST"):
            body = _valid_case(world)
        if (rule.endpoint, method) == ("cases.CaseSearch", "POST"):
            body = {"surname": SHARED_PREFIX}
        if (rule.endpoint, method) == ("letters.PrintBatches", "POST"):
            body = {"pi_id": world.orgs["PI-A"]}
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic cGlfYTpwdw=="}):
            response = client.open(url, method=method, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.status_code)
            assert response.headers.get("WWW-Authenticate") == "Bearer"
            text = response.get_data(as_text=True)
            assert not [s for s in secrets if s in text], (method, url)
    assert _snapshot(db) == before


# -- lists (scenario 2) ------------------------------------------------------------------------------------------------


def _page_through(client: FlaskClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every item of GET /cases (filters in the query) or, with a surname, POST /cases/search (filters in the
    body), two per page, following `next`."""
    items: list[dict[str, Any]] = []
    search = "surname" in params
    query: dict[str, Any] = {"limit": 2, **params}
    for _ in range(50):
        if search:
            response = client.post(f"{API}/cases/search", json=query, headers=headers)
        else:
            response = client.get(f"{API}/cases", query_string=query, headers=headers)
        assert response.status_code == 200, (params, response.status_code, response.json)
        page = response.json
        assert len(page["items"]) <= 2
        items.extend(page["items"])
        if page["next"] is None:
            return items
        query = {**query, "after": page["next"]}
    raise AssertionError("more than 50 pages for a world of 6 cases")


def test_case_list_shows_exactly_the_oracles_cases(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """GET /cases and POST /cases/search, paged, with and without filters that would match the other PI's cases
    (scenario 2): exactly the oracle's cases, no more, no fewer."""
    world = build_world(db)
    secrets_by_case = {case.id: case.secrets() for case in world.cases.values()}
    for username in PRINCIPALS:
        user = world.users[username]
        headers = world.headers(client, username)
        visible = world.visible_case_ids(username)

        def oracle(pred: Callable[[WorldCase], bool], visible: set[int] = visible) -> list[int]:
            return sorted(c.id for c in world.cases.values() if c.id in visible and pred(c))

        filters: list[tuple[dict[str, Any], Callable[[WorldCase], bool]]] = [
            ({}, lambda c: True),
            ({"surname": SHARED_PREFIX}, lambda c: True),
            ({"surname": SHARED_PREFIX.lower()}, lambda c: True),
            ({"surname": "JANSEN"}, lambda c: c.spec.surname.startswith("Jansen")),
            ({"surname": "Janssen"}, lambda c: c.spec.surname == "Janssen"),
            ({"surname": SHARED_PREFIX, "pi_id": world.orgs["PI-B"]}, lambda c: c.spec.current_pi == "PI-B"),
            ({"pi_id": world.orgs["PI-A"]}, lambda c: c.spec.current_pi == "PI-A"),
            ({"pi_id": world.orgs["PI-B"]}, lambda c: c.spec.current_pi == "PI-B"),
            ({"municipality_id": world.orgs["M-1"]}, lambda c: c.spec.municipality == "M-1"),
            ({"municipality_id": world.orgs["M-2"]}, lambda c: c.spec.municipality == "M-2"),
            ({"surname": "Jans", "municipality_id": world.orgs["M-2"]}, lambda c: c.spec.municipality == "M-2"),
            ({"sort": "created"}, lambda c: True),
            ({"sort": "release"}, lambda c: True),
            ({"sort": "-release", "surname": SHARED_PREFIX}, lambda c: True),
        ]
        for params, pred in filters:
            items = _page_through(client, headers, **params)
            ids = [item["id"] for item in items]
            assert len(ids) == len(set(ids)), (username, params, ids)
            assert sorted(ids) == oracle(pred), (username, params, sorted(ids), oracle(pred))
            for item in items:
                # A list item carries only its own case's data, and never a BSN.
                assert not _keys_containing(item, "bsn"), (username, item)
                text = json.dumps(item)
                own = secrets_by_case[item["id"]]
                others = [s for cid, ss in secrets_by_case.items() if cid != item["id"] for s in ss if s not in own]
                assert not [s for s in others if s in text], (username, item)
        # The failed-letters list holds only letters of visible cases (the world has none failed: empty).
        response = client.get(f"{API}/letters/failed", headers=headers)
        assert response.status_code == 200
        assert {item["case_id"] for item in response.json} <= visible
        if user.role is not Role.ADMIN:
            # Per case: the letters list is exactly that case's letters.
            for case in world.cases.values():
                response = client.get(f"{API}/cases/{case.id}/letters", headers=headers)
                if case.id in visible:
                    assert sorted(item["id"] for item in response.json) == sorted(case.letters)
                else:
                    assert response.status_code == 404
            # Per case: the debts list is exactly that case's debts.
            for case in world.cases.values():
                response = client.get(f"{API}/cases/{case.id}/debts", headers=headers)
                if case.id in visible:
                    assert sorted(d["id"] for d in response.json["items"]) == sorted(d.id for d in case.debts)
                    assert response.json["totals"]["all"]["count"] == len(case.debts)
                else:
                    assert response.status_code == 404


# -- field level: the BSN (security.md 2.1) ----------------------------------------------------------------------------


def _keys_containing(value: Any, needle: str, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            here = f"{path}.{key}" if path else str(key)
            if needle in str(key).lower():
                found.append(here)
            found.extend(_keys_containing(sub, needle, here))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found.extend(_keys_containing(sub, needle, f"{path}[{index}]"))
    return found


def test_bsn_by_role(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Volunteers and partners get no BSN field at all; PI staff see it masked and reveal it with a logged call."""
    world = build_world(db)
    partner_case = world.cases["a_partner"]
    vol, partner, pi_a = world.users["vol_a"], world.users["partner_p"], world.users["pi_a"]
    for user in (vol, partner):
        headers = world.headers(client, user.username)
        for case in world.cases.values():
            if not may_read(user, case):
                continue
            for path in ("", "/debts", "/history", "/consents", "/household", "/notes", "/actions"):
                response = client.get(f"{API}/cases/{case.id}{path}", headers=headers)
                assert response.status_code == 200, (user.username, path, response.status_code)
                assert not _keys_containing(response.json, "bsn"), (user.username, path, response.json)
                assert case.spec.bsn not in response.get_data(as_text=True)
                if path == "":
                    # Not even the masked last four digits.
                    assert case.spec.bsn[-4:] not in json.dumps(response.json["detainee"])
        for case in world.cases.values():
            response = client.get(f"{API}/cases/{case.id}/bsn", headers=headers)
            assert response.status_code == (403 if may_read(user, case) else 404), (user.username, case.key)
            assert case.spec.bsn not in response.get_data(as_text=True)
    # The partner reads the linked case (and nothing else) but never its BSN.
    assert world.visible_case_ids("partner_p") == {partner_case.id}

    headers = world.headers(client, "pi_a")
    case = world.cases["a_only"]
    detail = client.get(f"{API}/cases/{case.id}", headers=headers).json
    assert detail["detainee"]["bsn_masked"] == "*****" + case.spec.bsn[-4:]
    assert case.spec.bsn not in json.dumps(detail)
    assert _keys_containing(detail, "bsn") == ["detainee.bsn_masked"]

    response = client.get(f"{API}/cases/{case.id}/bsn", headers=headers)
    assert response.status_code == 200
    assert response.json == {"bsn": case.spec.bsn}
    assert response.headers["Cache-Control"] == "no-store"
    with db() as session:
        reveals = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "bsn.reveal", AuditEntry.actor_id == pi_a.actor_id)
        ).all()
    assert [(r.object_type, r.object_id, r.case_id, r.result) for r in reveals] == [
        ("case", str(case.id), case.id, "ok")
    ]
    # The audit row names the case, never the number itself.
    assert case.spec.bsn not in json.dumps(reveals[0].details)
    assert may_reveal_bsn(pi_a, case)


# -- mass assignment (scenario 7) --------------------------------------------------------------------------------------


def _valid_case(world: World) -> dict[str, Any]:
    return {
        "detainee": {"given_names": "Gijsbert", "surname": "Testmaker", "date_of_birth": "1985-04-03"},
        "detention": {"type": "prison_sentence", "start": "2026-01-05"},
    }


def _counts(db: sessionmaker[Session]) -> dict[str, int]:
    with db() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Detainee, Case, WorkflowInstance, Debt)
        }


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    errors: dict[str, list[str]] = response.json["errors"]
    return errors


PROTECTED_CASE_FIELDS = ("pi_id", "municipality_id", "state", "version", "id", "created_by", "team_id", "referred_at")


@pytest.mark.parametrize("extra", PROTECTED_CASE_FIELDS)
def test_mass_assignment_on_case_create(client: FlaskClient, db: sessionmaker[Session], extra: str) -> None:
    world = build_world(db)
    headers = world.headers(client, "pi_a")
    before = _counts(db)
    value: Any = world.orgs["PI-B"] if extra.endswith("_id") or extra == "id" else "referred"
    body = {**_valid_case(world), extra: value}
    assert extra in _errors(client.post(f"{API}/cases", json=body, headers=headers))
    # Nested: inside the detainee and the detention too.
    body = _valid_case(world)
    body["detainee"][extra] = value
    assert f"detainee.{extra}" in _errors(client.post(f"{API}/cases", json=body, headers=headers))
    if extra != "pi_id":
        body = _valid_case(world)
        body["detention"][extra] = value
        assert f"detention.{extra}" in _errors(client.post(f"{API}/cases", json=body, headers=headers))
    assert _counts(db) == before
    # The valid body itself is accepted (so the refusals above were about the extra field).
    assert client.post(f"{API}/cases", json=_valid_case(world), headers=headers).status_code == 201


def test_case_in_another_pi_is_refused(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """detention.pi_id naming another PI than the user's own is refused with a field message, not ignored."""
    world = build_world(db)
    before = _counts(db)
    for username in ("pi_a", "vol_a"):
        body = _valid_case(world)
        body["detention"]["pi_id"] = world.orgs["PI-B"]
        errors = _errors(client.post(f"{API}/cases", json=body, headers=world.headers(client, username)))
        assert "detention.pi_id" in errors
    # A counsellor may only open cases in a PI its team works for.
    body = _valid_case(world)
    body["detention"]["pi_id"] = world.orgs["PI-B"]
    assert "detention.pi_id" in _errors(client.post(f"{API}/cases", json=body, headers=world.headers(client, "cns_1")))
    assert _counts(db) == before


def _case_row(db: sessionmaker[Session], case_id: int) -> tuple[Any, ...]:
    with db() as session:
        row = session.get_one(Case, case_id)
        detainee = session.get_one(Detainee, row.detainee_id)
        state = session.get_one(WorkflowInstance, row.instance_id).state
        return (
            row.row_version,
            row.pi_id,
            row.team_id,
            row.municipality_id,
            row.referred_at,
            row.created_at,
            state,
            detainee.bsn,
            detainee.dji_number,
        )


def _debt_row(db: sessionmaker[Session], debt_id: int) -> tuple[Any, ...]:
    with db() as session:
        row = session.get_one(Debt, debt_id)
        state = session.get_one(WorkflowInstance, row.instance_id).state
        return (row.row_version, row.case_id, row.creditor_id, row.principal_cents, row.instance_id, state)


def test_mass_assignment_on_case_and_debt_changes(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """PATCH and POST with protected fields are refused naming the field; the rows stay as they were."""
    world = build_world(db)
    headers = world.headers(client, "pi_a")
    case = world.cases["a_only"]
    debt = case.debts[0]
    other_case = world.cases["b_only"]
    version = client.get(f"{API}/cases/{case.id}", headers=headers).headers["ETag"]
    case_before = _case_row(db, case.id)
    for extra, value in [
        ("pi_id", world.orgs["PI-B"]),
        ("municipality_id", world.orgs["M-2"]),
        ("team_id", world.orgs["team-2"]),
        ("state", "closed"),
        ("version", 99),
        ("id", other_case.id),
        ("created_by", "user:1"),
        ("referred_at", "2026-01-01T00:00:00Z"),
        ("bsn", "111222333"),
        ("detainee", {"bsn": "111222333"}),
    ]:
        response = client.patch(
            f"{API}/cases/{case.id}",
            json={"dji_number": "DJI-CHANGED", extra: value},
            headers={**headers, "If-Match": version},
        )
        assert extra in _errors(response), extra
    assert _case_row(db, case.id) == case_before

    debt_version = client.get(f"{API}/debts/{debt.id}", headers=headers).headers["ETag"]
    debt_before = _debt_row(db, debt.id)
    for extra, value in [
        ("case_id", other_case.id),
        ("creditor_id", world.creditor_ids[1]),
        ("instance_id", 1),
        ("state", "handed_over"),
        ("version", 99),
        ("id", other_case.debts[0].id),
        ("total_cents", 1),
    ]:
        response = client.patch(
            f"{API}/debts/{debt.id}",
            json={"principal_cents": 5, extra: value},
            headers={**headers, "If-Match": debt_version},
        )
        assert extra in _errors(response), extra
    assert _debt_row(db, debt.id) == debt_before

    counts = _counts(db)
    for extra, value in [("case_id", other_case.id), ("state", "handed_over"), ("id", 1), ("instance_id", 1)]:
        body = {"creditor_id": world.creditor_ids[0], "debt_type": "huur", extra: value}
        assert extra in _errors(client.post(f"{API}/cases/{case.id}/debts", json=body, headers=headers)), extra
    for extra, value in [("actor_id", "user:1"), ("state", "closed"), ("to_state", "closed")]:
        body = {"event": "flag_threat", "payload": {"threat": "eviction"}, extra: value}
        assert extra in _errors(client.post(f"{API}/cases/{case.id}/events", json=body, headers=headers)), extra
    assert _counts(db) == counts
    assert _case_row(db, case.id) == case_before


def test_only_an_administrator_lets_a_creditor_receive_the_bsn(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Field-level write: may_receive_bsn is refused for everyone but the administrator (scenario 7)."""
    world = build_world(db)
    creditor_id = world.creditor_ids[0]
    for username in ("pi_a", "cns_1"):
        headers = world.headers(client, username)
        body = {"name": f"Schuldeiser van {username}", "category": "overig", "may_receive_bsn": True}
        assert "may_receive_bsn" in _errors(client.post(f"{API}/creditors", json=body, headers=headers))
        etag = client.get(f"{API}/creditors/{creditor_id}", headers=headers).headers["ETag"]
        response = client.patch(
            f"{API}/creditors/{creditor_id}", json={"may_receive_bsn": True}, headers={**headers, "If-Match": etag}
        )
        assert response.status_code == 403  # contact data: only an administrator (test_creditor_changes.py)
    with db() as session:
        assert session.scalars(select(Creditor.may_receive_bsn)).all() == [False, False]


# -- ids out of range; known defects kept as strict xfails, so a fix is noticed and the marker removed --------------


def test_ids_beyond_the_id_columns_are_not_found(app: Flask, client: FlaskClient, db: sessionmaker[Session]) -> None:
    world = build_world(db)
    failures = []
    for username in ("pi_a", "admin"):
        headers = world.headers(client, username)
        for rule, method in api_rules(app):
            route = ROUTES[(rule.endpoint, method)]
            if route.kind == "none":
                continue
            (param,) = rule.arguments
            for impossible in IMPOSSIBLE_IDS:
                url = rule.build({param: impossible}, append_unknown=False)[1]
                body = route.body(world) if route.body else None
                response = client.open(url, method=method, json=body, headers={**headers, **dict(route.headers)})
                if response.status_code not in (403, 404):
                    failures.append(f"{username} {method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)


def _history_events(client: FlaskClient, headers: dict[str, str], case_id: int) -> list[str]:
    return [entry["event"] for entry in client.get(f"{API}/cases/{case_id}/history", headers=headers).json]


#: Events that only record what a service did (the municipality chosen, a transfer, a new release date): their
#: payload is what the history shows, so firing them by hand writes a history of things that never happened.
BOOKKEEPING_EVENTS = {
    "record_transfer": lambda w: {"from_pi_id": w.orgs["PI-A"], "to_pi_id": w.orgs["PI-B"], "on": "2026-03-01"},
    "set_municipality": lambda w: {"municipality_id": w.orgs["M-2"], "rule": "override"},
    "change_release_date": lambda w: {"expected_release": "2026-02-01"},
}


def test_bookkeeping_events_change_no_data(client: FlaskClient, db: sessionmaker[Session]) -> None:
    """Mass assignment through an event's payload: the case's PI, team and municipality stay as they are."""
    world = build_world(db)
    case = world.cases["a_only"]
    before = _case_row(db, case.id)[1:5]
    for username in ("pi_a", "cns_1"):
        headers = world.headers(client, username)
        for event, payload in BOOKKEEPING_EVENTS.items():
            body = {"event": event, "payload": payload(world), "reason": "handmatig"}
            client.post(f"{API}/cases/{case.id}/events", json=body, headers=headers)
    assert _case_row(db, case.id)[1:5] == before


def test_bookkeeping_events_cannot_be_fired_through_the_api(client: FlaskClient, db: sessionmaker[Session]) -> None:
    world = build_world(db)
    case = world.cases["a_only"]
    headers = world.headers(client, "pi_a")
    before = _history_events(client, headers, case.id)
    statuses = {}
    for event, payload in BOOKKEEPING_EVENTS.items():
        body = {"event": event, "payload": payload(world), "reason": "handmatig"}
        statuses[event] = client.post(f"{API}/cases/{case.id}/events", json=body, headers=headers).status_code
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert _history_events(client, headers, case.id) == before
