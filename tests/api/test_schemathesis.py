"""Schemathesis against the app's own OpenAPI document, in-process (security.md Part 3, scenario 42).

Every operation of /api/openapi.json is fuzzed with valid (positive) and invalid (negative) data, signed in as a
counsellor of the fixture world, and every response is checked: no 5xx, a documented status code, a body that
matches the documented schema. Ids in paths, queries and bodies are drawn half of the time from the world (cases
and debts the counsellor may see, the PIs, municipalities, partner and creditors), so requests get past the
"not found" and reach the views and services.

Schemathesis's own pytest integration (`schemathesis.pytest.from_fixture`) does not run under pytest 9.2 (it
sets `Function._nodeid`), so the operations are driven here directly: one Hypothesis test per operation and
generation mode, each a subtest.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from sqlalchemy.orm import Session, sessionmaker

from tests.api.world import World, build_world
from tests.conftest import DatabaseUnderTest

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = 10  # per generation mode and operation, derandomized: 15 took 40-44 s a backend, over a tenth of the suite
COUNSELLOR = "cns_1"


def world_ids(world: World) -> dict[str, list[int]]:
    """Which world ids to offer for each id-like name."""
    orgs = list(world.orgs.values())
    municipalities = [world.orgs["M-1"], world.orgs["M-2"]]
    pis = [world.orgs["PI-A"], world.orgs["PI-B"]]
    creditors = list(world.creditor_ids)
    return {
        "case_id": [case.id for case in world.cases.values()],
        "debt_id": [debt.id for debt in world.debts()],
        "creditor_id": creditors,
        "collecting_party_id": creditors,
        "recipient_creditor_id": creditors,
        "municipality_id": municipalities,
        "registration_municipality_id": municipalities,
        "pi_id": pis,
        "to_pi_id": pis,
        "organisation_id": [world.orgs["probation"], *orgs],
        "recipient_organisation_id": orgs,
    }


def _with_world_ids(value: Any, ids: dict[str, list[int]]) -> st.SearchStrategy[Any]:
    """A strategy for `value` where every id-like key may be swapped for a world id (recursively)."""
    if isinstance(value, dict):
        parts = {}
        for key, sub in value.items():
            if key in ids and (sub is None or isinstance(sub, int)) and not isinstance(sub, bool):
                parts[key] = st.one_of(st.just(sub), st.sampled_from(ids[key]))
            else:
                parts[key] = _with_world_ids(sub, ids)
        return st.fixed_dictionaries(parts)
    if isinstance(value, list):
        return st.tuples(*(_with_world_ids(item, ids) for item in value)).map(list)
    return st.just(value)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def test_openapi_operations(
    database: DatabaseUnderTest,
    app: Flask,
    client: FlaskClient,
    committed: sessionmaker[Session],
    subtests: Any,
) -> None:
    world = build_world(committed)
    headers = world.headers(client, COUNSELLOR)
    ids = world_ids(world)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # Revoking the token would sign the counsellor out for the rest of the run.
    schema = schema.exclude(method="DELETE", path="/api/v1/auth/token")

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> st.SearchStrategy[Any]:
        return _with_world_ids(path_parameters, ids)

    @schema.hook
    def flatmap_query(context: Any, query: dict[str, Any]) -> st.SearchStrategy[Any]:
        return _with_world_ids(query, ids)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
        return _with_world_ids(body, ids)

    if database.backend == "postgresql":
        # A known bug (tests/api/test_bad_input.py::test_nul_bytes_are_refused, a strict xfail): NUL in a text
        # parameter answers 500 on PostgreSQL. Remove this filter when that test passes.
        @schema.hook
        def filter_case(context: Any, case: Any) -> bool:
            return not any(_has_nul(part) for part in (case.query, case.body, case.path_parameters, case.headers))

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with subtests.test(operation=operation.label, mode=mode.value):

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    case.call_and_validate(headers=headers, checks=CHECKS)

                run()
