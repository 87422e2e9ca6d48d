"""The JSON API under /api/v1 (flask-smorest): OpenAPI at /api/openapi.json, documentation at /api/docs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.routing import IntegerConverter, Map

from schulden.fields import MAX_ID


class IdConverter(IntegerConverter):
    """`<id:case_id>`: a database id, 1 to MAX_ID."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def _id_schema(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class SchuldrouteApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, but errors are answered by our RFC 9457 handlers (schulden.http.errors)."""

    def _register_error_handlers(self) -> None:
        """Leave error handling to schulden.http.errors, which answers problem+json in Dutch."""


def make_api(app: Flask) -> Any:
    """Bind a new Api to `app` and register every API blueprint."""
    from schulden.api.access_export import blp as access_export
    from schulden.api.auth import blp as auth
    from schulden.api.cases import blp as cases
    from schulden.api.conditions import blp as conditions
    from schulden.api.consent_forms import blp as consent_forms
    from schulden.api.creditors import blp as creditors
    from schulden.api.debts import blp as debts
    from schulden.api.docs import blp as docs
    from schulden.api.figures import blp as figures
    from schulden.api.insurance import blp as insurance
    from schulden.api.knooppunt import blp as knooppunt
    from schulden.api.legal_hold import blp as legal_hold
    from schulden.api.letters import blp as letters
    from schulden.api.organisation_setup import blp as organisation_setup
    from schulden.api.organisations import blp as municipalities
    from schulden.api.referrals import blp as referrals
    from schulden.api.release import blp as release
    from schulden.api.replies import blp as replies

    app.config.update(
        API_TITLE="Schuldroute API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.url_map.converters["id"] = IdConverter
    api = SchuldrouteApi(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Schuldroute: detainees' debts from the PI intake to the municipality. All requests except "
                    "`POST /api/v1/auth/token` need `Authorization: Bearer <token>`. Errors are RFC 9457 "
                    "problem+json with Dutch messages per field."
                )
            }
        },
    )
    api.register_converter(IdConverter, _id_schema)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    for blueprint in (
        auth,
        cases,
        conditions,
        consent_forms,
        insurance,
        debts,
        letters,
        creditors,
        municipalities,
        organisation_setup,
        figures,
        replies,
        referrals,
        knooppunt,
        access_export,
        release,
        legal_hold,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs)
    return api
