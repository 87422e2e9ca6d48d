"""Which PI an intake may open a case in, with the exact Dutch message of each refusal: `cases.intake.pi_for` checks
it with `access.may_act_for_pi` since the rule has one home (issue 11); the answers stay what they were."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.test_cases_api import INTAKE, login, world  # noqa: F401 (world is a fixture)

OWN_PI_ONLY = "U kunt alleen dossiers openen in uw eigen PI."


def _intake(pi_id: int | None) -> dict[str, Any]:
    detainee = {k: v for k, v in INTAKE["detainee"].items() if k != "bsn"}
    return {"detainee": detainee, "detention": {**INTAKE["detention"], "pi_id": pi_id}}


@pytest.mark.parametrize(
    ("user", "pi", "message"),
    [
        ("pi_a", "pi_a", None),
        ("pi_a", None, None),
        ("pi_a", "pi_b", OWN_PI_ONLY),
        ("pi_a", 999_999, OWN_PI_ONLY),
        ("vol_a", "pi_b", OWN_PI_ONLY),
        ("cns", "pi_a", None),
        ("cns", None, "Kies de PI waar de gedetineerde verblijft."),
        ("cns", "pi_b", "Uw team werkt niet voor deze PI."),
        ("cns", 999_999, "Geen PI met id 999999."),
        ("cns", "gm", "Geen PI met id {gm}."),
    ],
)
def test_the_pi_of_an_intake(
    client: FlaskClient,
    world: dict[str, int],  # noqa: F811 (the fixture imported above)
    user: str,
    pi: str | int | None,
    message: str | None,
) -> None:
    pi_id = world[pi] if isinstance(pi, str) else pi

    response = client.post("/api/v1/cases", json=_intake(pi_id), headers=login(client, user))

    if message is None:
        assert response.status_code == 201, response.json
    else:
        assert response.status_code == 422
        assert response.json["errors"]["detention.pi_id"] == [message.format(gm=world["gm"])]


def test_a_volunteer_records_no_bsn(client: FlaskClient, world: dict[str, int]) -> None:  # noqa: F811
    response = client.post("/api/v1/cases", json=INTAKE, headers=login(client, "vol_a"))

    assert response.status_code == 422
    assert response.json["errors"]["detainee.bsn"] == [
        "Een vrijwilliger legt geen BSN vast; laat dit aan de casemanager."
    ]
