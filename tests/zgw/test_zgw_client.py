"""The ZGW client against the validating stub: the five calls of a referral, failures at each step, retries, the
token, and proof that the stub's validation is real (an invalid request or response does not slip through)."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from integrations.municipal.zgw import (
    ZgwConfig,
    ZgwError,
    ZgwInvalidInput,
    ZgwReferral,
    ZgwStep,
    create_referral_case,
)
from tests.zgw.conftest import BSN, CLIENT_ID, SECRET, config_for
from tests.zgw.stub import ZgwStub, matching

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FIVE = [
    "zaak_create",
    "rol_create",
    "status_create",
    "enkelvoudiginformatieobject_create",
    "zaakinformatieobject_create",
]
MakeReferral = Callable[..., ZgwReferral]


# -- the happy path --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("documenten_version", ["1.5.0", "1.4.3"])
def test_a_referral_becomes_zaak_rol_status_document_and_link(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral, handover_pdf: bytes, documenten_version: str
) -> None:
    zgw_stub.reset(documenten_version=documenten_version)

    result = create_referral_case(zgw_config, make_referral(), now=NOW)

    assert zgw_stub.operations() == FIVE
    assert zgw_stub.problems == []  # all five requests valid against the specs (and the stub's stricter checks)
    zaak = zgw_stub.zaken[result.zaak_url]
    assert zaak["zaaktype"] == zgw_stub.catalogue.zaaktype
    assert zaak["bronorganisatie"] == zaak["verantwoordelijkeOrganisatie"] == "002220647"
    assert zaak["vertrouwelijkheidaanduiding"] == "vertrouwelijk"
    assert zaak["startdatum"] == "2026-03-02"
    assert result.zaak_identificatie == zaak["identificatie"] != ""
    assert zaak["rollen"] == [result.rol_url]
    assert zaak["status"] == result.status_url
    assert zaak["zaakinformatieobjecten"] == [result.zaakinformatieobject_url]

    person = zgw_stub.rollen[result.rol_url]["betrokkeneIdentificatie"]
    assert person["inpBsn"] == BSN
    assert (person["geslachtsnaam"], person["voorvoegselGeslachtsnaam"], person["voornamen"]) == (
        "Groen",
        "van der",
        "Pieter Jan",
    )
    assert zgw_stub.rollen[result.rol_url]["betrokkeneType"] == "natuurlijk_persoon"

    status = zgw_stub.statussen[result.status_url]
    assert (status["statustype"], status["datumStatusGezet"]) == (zgw_stub.catalogue.statustype, NOW.isoformat())

    assert zgw_stub.files[result.document_url] == handover_pdf  # base64 there and back, byte for byte
    document = zgw_stub.documenten[result.document_url]
    assert (document["bestandsnaam"], document["formaat"], document["taal"]) == (
        "overdrachtsdossier-SR-2026-0001.pdf",
        "application/pdf",
        "nld",
    )
    link = zgw_stub.zaakinformatieobjecten[result.zaakinformatieobject_url]
    assert (link["zaak"], link["informatieobject"]) == (result.zaak_url, result.document_url)


def test_the_token_follows_the_zgw_scheme(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral
) -> None:
    before = int(time.time())
    create_referral_case(zgw_config, make_referral())

    assert len(zgw_stub.raw_tokens) == 5
    token = zgw_stub.raw_tokens[0]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == claims["client_id"] == CLIENT_ID
    assert (claims["user_id"], claims["user_representation"]) == ("cns-17", "Schuldhulpverlener Noord")
    assert before <= claims["iat"] <= int(time.time())
    # The zaak call carries the CRS headers the Zaken API requires for it.
    zaak_headers = zgw_stub.received[0].headers
    assert (zaak_headers["Accept-Crs"], zaak_headers["Content-Crs"]) == ("EPSG:4326", "EPSG:4326")


def test_without_a_named_user_the_application_is_the_user(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral
) -> None:
    create_referral_case(zgw_config, make_referral(user_id="", user_representation=""))

    assert zgw_stub.problems == []
    assert (zgw_stub.tokens[0]["user_id"], zgw_stub.tokens[0]["user_representation"]) == (CLIENT_ID, "Schuldroute")


# -- failures and retries --------------------------------------------------------------------------------------------

STEPS = list(zip(FIVE, ZgwStep, strict=True))


@pytest.mark.parametrize(("operation", "step"), STEPS, ids=[s.value for _, s in STEPS])
def test_a_server_error_names_the_step_and_a_retry_resumes_without_duplicates(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral, operation: str, step: ZgwStep
) -> None:
    zgw_stub.fail[operation] = 500
    referral = make_referral()

    with pytest.raises(ZgwError) as caught:
        create_referral_case(zgw_config, referral)

    error = caught.value
    assert (error.step, error.status) == (step, 500)
    assert str(error) == f"ZGW-stap '{step}' mislukt: HTTP 500 Er is een serverfout opgetreden. (error)"
    done = FIVE.index(operation)
    assert zgw_stub.operations() == FIVE[: done + 1]
    progress = error.progress
    known = [progress.zaak_url, progress.rol_url, progress.status_url, progress.document_url]
    made = [*zgw_stub.zaken, *zgw_stub.rollen, *zgw_stub.statussen, *zgw_stub.documenten]
    assert known[:done] == made  # the error names exactly what the server made before the failed step
    assert known[done:] == [None] * (4 - done)

    zgw_stub.fail.clear()
    result = create_referral_case(zgw_config, referral, resume=progress)

    assert zgw_stub.operations() == FIVE[: done + 1] + FIVE[done:]  # the failed step again, then the rest
    assert zgw_stub.problems == []
    assert (len(zgw_stub.zaken), len(zgw_stub.rollen), len(zgw_stub.statussen)) == (1, 1, 1)
    assert (len(zgw_stub.documenten), len(zgw_stub.zaakinformatieobjecten)) == (1, 1)
    assert result.zaak_url in zgw_stub.zaken


def test_a_wrong_secret_is_refused_with_401_before_anything_exists(
    zgw_stub: ZgwStub, make_referral: MakeReferral
) -> None:
    config = config_for(zgw_stub, secret="een-ander-geheim-ook-van-minstens-32-bytes")

    with pytest.raises(ZgwError) as caught:
        create_referral_case(config, make_referral())

    assert (caught.value.step, caught.value.status, caught.value.code) == (ZgwStep.ZAAK, 401, "not_authenticated")
    assert str(caught.value) == "ZGW-stap 'zaak' mislukt: HTTP 401 Ongeldige authenticatiegegevens. (not_authenticated)"
    assert zgw_stub.zaken == {}
    assert zgw_stub.problems == []  # the request itself was valid; only the signature was wrong


def test_another_client_id_is_refused_with_403(zgw_stub: ZgwStub, make_referral: MakeReferral) -> None:
    with pytest.raises(ZgwError) as caught:
        create_referral_case(config_for(zgw_stub, client_id="een-ander"), make_referral())

    assert (caught.value.step, caught.value.status) == (ZgwStep.ZAAK, 403)


def test_a_refused_field_is_named_and_a_fixed_identificatie_prevents_a_second_zaak(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral
) -> None:
    referral = make_referral(identificatie="SR-2026-0001")
    first = create_referral_case(zgw_config, referral)

    with pytest.raises(ZgwError) as caught:
        create_referral_case(zgw_config, referral)  # sent twice, e.g. by a job that ran again

    error = caught.value
    assert (error.step, error.status) == (ZgwStep.ZAAK, 400)
    assert error.invalid_params[0][:2] == ("identificatie", "identificatie-niet-uniek")
    assert "identificatie (identificatie-niet-uniek)" in str(error)
    assert error.zaak_already_exists
    assert list(zgw_stub.zaken) == [first.zaak_url]
    assert zgw_stub.zaken[first.zaak_url]["identificatie"] == "SR-2026-0001"


def test_a_timeout_names_the_step_and_the_zaak_the_server_made_anyway_is_not_made_twice(
    zgw_stub: ZgwStub, make_referral: MakeReferral
) -> None:
    referral = make_referral(identificatie="SR-2026-0002")
    zgw_stub.delay["zaak_create"] = 1.0

    with pytest.raises(ZgwError) as caught:
        create_referral_case(config_for(zgw_stub, timeout=0.3), referral)

    assert (caught.value.step, caught.value.status) == (ZgwStep.ZAAK, None)
    assert str(caught.value) == "ZGW-stap 'zaak' mislukt: geen antwoord binnen 0.3 s"
    assert caught.value.progress.zaak_url is None  # we never heard of it ...
    zgw_stub.delay.clear()
    with pytest.raises(ZgwError) as again:
        create_referral_case(config_for(zgw_stub), referral)
    assert again.value.zaak_already_exists  # ... but the retry is refused rather than making a second zaak
    assert len(zgw_stub.zaken) == 1


def test_an_unreachable_server_names_the_step(make_referral: MakeReferral, zgw_stub: ZgwStub) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(zgw_stub, zaken_api_url=f"http://127.0.0.1:{port}/zaken/api/v1")

    with pytest.raises(ZgwError) as caught:
        create_referral_case(config, make_referral())

    assert str(caught.value) == "ZGW-stap 'zaak' mislukt: geen verbinding"


def test_the_stub_checks_its_own_responses(
    zgw_stub: ZgwStub, zgw_config: ZgwConfig, make_referral: MakeReferral
) -> None:
    zgw_stub.corrupt.add("zaak_create")  # answers 201 without the required url

    with pytest.raises(ZgwError) as caught:
        create_referral_case(zgw_config, make_referral())

    assert str(caught.value) == "ZGW-stap 'zaak' mislukt: HTTP 201 antwoord zonder url"
    assert matching(zgw_stub.response_errors, r"'url' is a required property")
    zgw_stub.response_errors.clear()  # seen; the fixture would otherwise fail the test


# -- the stub's validation is real ---------------------------------------------------------------------------------


def _raw_post(stub: ZgwStub, url: str, body: Any, **headers: str) -> int:
    token = jwt.encode(
        {"iss": CLIENT_ID, "iat": int(time.time()), "client_id": CLIENT_ID, "user_id": "t", "user_representation": "t"},
        SECRET,
        algorithm="HS256",
    )
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} | headers
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=sent, method="POST")  # noqa: S310 (loopback stub)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


def _zaak(stub: ZgwStub, **changes: Any) -> dict[str, Any]:
    body = {
        "bronorganisatie": "002220647",
        "verantwoordelijkeOrganisatie": "002220647",
        "zaaktype": stub.catalogue.zaaktype,
        "startdatum": "2026-03-02",
        "omschrijving": "Aanmelding",
    }
    return {key: value for key, value in (body | changes).items() if value is not None}


def _rol(stub: ZgwStub, **person: Any) -> dict[str, Any]:
    return {
        "zaak": f"{stub.zaken_url}/zaken/00000000-0000-4000-8000-000000000000",
        "betrokkeneType": "natuurlijk_persoon",
        "roltype": stub.catalogue.roltype,
        "roltoelichting": "Cliënt",
        "betrokkeneIdentificatie": {"inpBsn": BSN, "geslachtsnaam": "Groen"} | person,
    }


INVALID: dict[str, tuple[Callable[[ZgwStub], tuple[str, Any, dict[str, str]]], str]] = {
    "zaak without the CRS headers": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s), {}),
        r"Missing required header parameter: Accept-Crs",
    ),
    "zaak with a charset on Content-Type": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s), CRS | {"Content-Type": "application/json; charset=utf-8"}),
        r"Content-Type",
    ),
    "zaak omschrijving over 80 characters": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, omschrijving="x" * 81), CRS),
        r"is too long",
    ),
    "zaak startdatum in Dutch notation": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, startdatum="02-03-2026"), CRS),
        r"is not a 'date'",
    ),
    "zaak zaaktype that is no URL": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, zaaktype="zaaktype-17"), CRS),
        r"is not a 'uri'",
    ),
    "zaak without bronorganisatie": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, bronorganisatie=None), CRS),
        r"'bronorganisatie' is a required property",
    ),
    "zaak with a misspelt field": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, omschrijvng="Aanmelding"), CRS),
        r"omschrijvng: onbekend veld",
    ),
    "zaak with a read-only field": (
        lambda s: (f"{s.zaken_url}/zaken", _zaak(s, url=f"{s.zaken_url}/zaken/1"), CRS),
        r"read-only",
    ),
    "rol with a ten-digit BSN (behind the discriminator)": (
        lambda s: (f"{s.zaken_url}/rollen", _rol(s, inpBsn="9999938470"), {}),
        r"betrokkeneIdentificatie\.inpBsn: '9999938470' is too long",
    ),
    "rol with a misspelt name field": (
        lambda s: (f"{s.zaken_url}/rollen", _rol(s, voorvoegsel="van"), {}),
        r"betrokkeneIdentificatie\.voorvoegsel: onbekend veld",
    ),
    "rol without roltoelichting": (
        lambda s: (f"{s.zaken_url}/rollen", {k: v for k, v in _rol(s).items() if k != "roltoelichting"}, {}),
        r"'roltoelichting' is a required property",
    ),
    "document with inhoud that is no base64": (
        lambda s: (
            f"{s.documenten_url}/enkelvoudiginformatieobjecten",
            {
                "bronorganisatie": "002220647",
                "creatiedatum": "2026-03-02",
                "titel": "Overdracht",
                "auteur": "Schuldroute",
                "taal": "nld",
                "informatieobjecttype": s.catalogue.informatieobjecttype,
                "inhoud": "dit is geen base64!",
            },
            {},
        ),
        r"inhoud: 'dit is geen base64!' is not a 'byte'",
    ),
    "document without taal": (
        lambda s: (
            f"{s.documenten_url}/enkelvoudiginformatieobjecten",
            {
                "bronorganisatie": "002220647",
                "creatiedatum": "2026-03-02",
                "titel": "Overdracht",
                "auteur": "Schuldroute",
                "informatieobjecttype": s.catalogue.informatieobjecttype,
            },
            {},
        ),
        r"'taal' is a required property",
    ),
    "a body that is no JSON": (
        lambda s: (f"{s.zaken_url}/statussen", b"zaak=1", {}),
        r"status_create: .*Failed to deserialize",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_the_stub_refuses_an_invalid_request(zgw_stub: ZgwStub, case: str) -> None:
    build, expected = INVALID[case]
    url, body, headers = build(zgw_stub)

    status = _raw_post(zgw_stub, url, body, **headers)

    assert status == 400
    assert matching(zgw_stub.problems, expected), zgw_stub.problems


def test_the_stub_accepts_the_same_requests_when_valid(zgw_stub: ZgwStub) -> None:
    """The counterpart of the cases above: without the defect the stub says nothing."""
    assert _raw_post(zgw_stub, f"{zgw_stub.zaken_url}/zaken", _zaak(zgw_stub), **CRS) == 201
    zaak = next(iter(zgw_stub.zaken))
    assert _raw_post(zgw_stub, f"{zgw_stub.zaken_url}/rollen", _rol(zgw_stub) | {"zaak": zaak}) == 201
    assert zgw_stub.problems == []


# -- input checks and what must never leak ---------------------------------------------------------------------


def test_bad_input_is_refused_before_anything_is_sent(zgw_stub: ZgwStub, make_referral: MakeReferral) -> None:
    with pytest.raises(ZgwInvalidInput) as referral_error:
        make_referral(bsn="123456789", omschrijving="x" * 81, pdf=b"<html>", title="")
    assert referral_error.value.errors == {
        "bsn": "Geen geldig BSN (9 cijfers, elfproef).",
        "omschrijving": "Maximaal 80 tekens.",
        "pdf": "Geen PDF-bestand.",
        "title": "Verplicht.",
    }
    assert "123456789" not in str(referral_error.value)

    with pytest.raises(ZgwInvalidInput) as config_error:
        config_for(
            zgw_stub,
            zaken_api_url="http://zaken.gemeente.example/api/v1",
            bronorganisatie="123456789",
            vertrouwelijkheidaanduiding="geheimpje",
            informatieobjecttype_url="https://catalogi.example/" + "x" * 200,
        )
    assert set(config_error.value.errors) == {
        "zaken_api_url",
        "bronorganisatie",
        "vertrouwelijkheidaanduiding",
        "informatieobjecttype_url",
    }
    assert config_error.value.errors["zaken_api_url"] == "Moet een https-adres zijn."
    assert zgw_stub.received == []


def test_no_bsn_name_secret_or_token_in_logs_errors_or_reprs(
    zgw_stub: ZgwStub,
    zgw_config: ZgwConfig,
    make_referral: MakeReferral,
    caplog: pytest.LogCaptureFixture,
) -> None:
    referral = make_referral()
    caplog.set_level(logging.DEBUG)
    create_referral_case(zgw_config, referral)
    zgw_stub.fail["status_create"] = 400
    with pytest.raises(ZgwError) as caught:
        create_referral_case(zgw_config, referral)

    token = zgw_stub.raw_tokens[0]
    said = [caplog.text, str(caught.value), repr(referral), repr(zgw_config)]
    said += [json.dumps(vars(record), default=str) for record in caplog.records]
    for secret in (BSN, "Groen", "Pieter", SECRET, token, "Schuldhulpverlener Noord"):
        assert not any(secret in text for text in said), secret
    assert matching([r.getMessage() for r in caplog.records], r"zgw step failed")
