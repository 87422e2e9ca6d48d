"""Fixtures for the ZGW client: one validating stub server per session (the OpenAPI files take a second to load),
reset before each test and checked after it. No database: the client takes plain values."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from reportlab.pdfgen.canvas import Canvas

from integrations.municipal.zgw import ZgwConfig, ZgwReferral
from tests.zgw.stub import ZgwStub

CLIENT_ID = "schuldroute-test"
#: 32 bytes or more: PyJWT warns about shorter HS256 keys, and the warning is an error in this suite.
SECRET = "stub-geheim-voor-hs256-van-minstens-32-bytes"
RSIN = "002220647"
#: A fictional person from the RvIG test set (shared/data/identifiers/test-bsn-haalcentraal-situaties.csv).
BSN = "999993847"


@pytest.fixture(scope="session")
def zgw_server() -> Iterator[ZgwStub]:
    stub = ZgwStub(client_id=CLIENT_ID, secret=SECRET)
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def zgw_stub(zgw_server: ZgwStub) -> Iterator[ZgwStub]:
    """The stub, emptied; after the test, every response it gave must have passed the spec."""
    zgw_server.reset()
    yield zgw_server
    assert zgw_server.response_errors == [], "the stub answered outside the spec"


def config_for(stub: ZgwStub, **changes: Any) -> ZgwConfig:
    values: dict[str, Any] = {
        "zaken_api_url": stub.zaken_url,
        "documenten_api_url": stub.documenten_url,
        "client_id": CLIENT_ID,
        "secret": SECRET,
        "bronorganisatie": RSIN,
        "zaaktype_url": stub.catalogue.zaaktype,
        "statustype_url": stub.catalogue.statustype,
        "roltype_url": stub.catalogue.roltype,
        "informatieobjecttype_url": stub.catalogue.informatieobjecttype,
        "timeout": 5.0,
    }
    return ZgwConfig(**(values | changes))


@pytest.fixture
def zgw_config(zgw_stub: ZgwStub) -> ZgwConfig:
    return config_for(zgw_stub)


@pytest.fixture(scope="session")
def handover_pdf() -> bytes:
    """A real (small) PDF, with the binary bytes a PDF has, so the base64 round trip is tested on them."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=True)
    canvas.drawString(72, 720, "Overdrachtsdossier schuldhulpverlening - ë ü €")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.fixture
def make_referral(handover_pdf: bytes) -> Callable[..., ZgwReferral]:
    def make(**changes: Any) -> ZgwReferral:
        values: dict[str, Any] = {
            "omschrijving": "Aanmelding schuldhulpverlening SR-2026-0001",
            "toelichting": "Warme overdracht vanuit detentie; vrijlating verwacht 20-04-2026.",
            "startdatum": date(2026, 3, 2),
            "bsn": BSN,
            "geslachtsnaam": "Groen",
            "voorvoegsel": "van der",
            "voornamen": "Pieter Jan",
            "status_toelichting": "Aanmelding ontvangen",
            "pdf": handover_pdf,
            "filename": "overdrachtsdossier-SR-2026-0001.pdf",
            "title": "Overdrachtsdossier SR-2026-0001",
            "user_id": "cns-17",
            "user_representation": "Schuldhulpverlener Noord",
        }
        return ZgwReferral(**(values | changes))

    return make
