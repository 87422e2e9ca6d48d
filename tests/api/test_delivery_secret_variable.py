"""An administrator sets how a municipality receives referrals; the ZGW secret's variable must be a ZGW_SECRET_…
one, or the client could be made to sign with SECRET_KEY or to send DATABASE_URL's password (docs/zgw.md)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.referrals.models import MunicipalDelivery
from schulden.roles import Role
from schulden.users.services import create_user
from tests.factories import make_municipality

PASSWORD = "beheer-wachtwoord-1234"


def _settings(variable: str) -> dict[str, str]:
    return {
        "channel": "zgw",
        "zaken_api_url": "https://zaken.gemeente.example/zaken/api/v1",
        "documenten_api_url": "https://documenten.gemeente.example/documenten/api/v1",
        "zgw_client_id": "schuldroute",
        "zgw_secret_setting": variable,
        "zaaktype_url": "https://catalogi.gemeente.example/api/v1/zaaktypen/1",
        "statustype_url": "https://catalogi.gemeente.example/api/v1/statustypen/1",
        "roltype_url": "https://catalogi.gemeente.example/api/v1/roltypen/1",
        "informatieobjecttype_url": "https://catalogi.gemeente.example/api/v1/informatieobjecttypen/1",
        "bronorganisatie": "002220647",
    }


@pytest.mark.parametrize(
    ("variable", "status"), [("SECRET_KEY", 422), ("DATABASE_URL", 422), ("ZGW_SECRET_GM0999", 200)]
)
def test_only_a_zgw_secret_variable_can_be_named(
    client: FlaskClient, committed: sessionmaker[Session], variable: str, status: int
) -> None:
    with committed() as session:
        municipality = make_municipality(session, code="GM0999")
        create_user(session, actor=SYSTEM, username="beheer_zgw", display_name="Beheer", role=Role.ADMIN,
                    password=PASSWORD, organisation=None)  # fmt: skip
        session.commit()
        municipality_id = municipality.id
    token = client.post("/api/v1/auth/token", json={"username": "beheer_zgw", "password": PASSWORD})
    assert token.status_code == 201, token.get_json()
    bearer = {"Authorization": f"Bearer {token.get_json()['access_token']}"}

    response = client.put(
        f"/api/v1/municipalities/{municipality_id}/delivery", json=_settings(variable), headers=bearer
    )

    assert response.status_code == status, response.get_json()
    with committed() as session:
        stored = session.scalar(select(MunicipalDelivery.zgw_secret_setting))
    if status == 422:
        assert "zgw_secret_setting" in response.get_json()["errors"]
        assert stored is None
    else:
        assert stored == variable
