"""Send a referral to a municipality as a ZGW case, over the Zaken API 1.5 and the Documenten API 1.4/1.5.

`create_referral_case` makes five POSTs in this order, each needing the URL the one before returned:

1. zaak (Zaken API): the case, of the municipality's zaaktype;
2. rol (Zaken API): the detainee as natuurlijk_persoon, identified by BSN and name;
3. status (Zaken API): the first status of the zaaktype;
4. enkelvoudiginformatieobject (Documenten API): the handover PDF, inline as base64;
5. zaakinformatieobject (Zaken API): links the document to the zaak; the Zaken API registers the mirror
   relation (objectinformatieobject) in the Documenten API itself.

ZGW has no transaction across calls: when step N fails, steps 1..N-1 exist at the municipality. The `ZgwError`
raised carries their URLs (`progress`), and `create_referral_case(..., resume=error.progress)` carries on from step N
without creating them again. docs/zgw.md says what is left behind when no retry comes.

Authentication is the ZGW JWT scheme: HS256 signed with the client secret, claims iss, iat, client_id, user_id and
user_representation, one fresh token per call. Neither the token, the secret nor the BSN or a name is logged or
put in an exception message; the personal fields are also left out of the dataclasses' repr.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email.message import Message
from enum import StrEnum
from typing import IO, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jwt
from stdnum.nl import bsn as elfproef

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Amsterdam")

#: The values the Zaken and Documenten APIs accept (VertrouwelijkheidaanduidingEnum).
VERTROUWELIJKHEIDAANDUIDINGEN = (
    "openbaar",
    "beperkt_openbaar",
    "intern",
    "zaakvertrouwelijk",
    "vertrouwelijk",
    "confidentieel",
    "geheim",
    "zeer_geheim",
)

#: Sent on every call as X-Audit-Toelichting: it lands in the municipality's audit trail, so it says why we call.
AUDIT_TOELICHTING = "Warme overdracht schuldhulpverlening na detentie (Schuldroute)"
DEFAULT_ROLTOELICHTING = "Gedetineerde, doorverwezen voor schuldhulpverlening"
#: The zaak carries a geometry field, so the Zaken API requires both CRS headers on it even when we send none.
CRS = "EPSG:4326"

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: A municipality's delivery settings name the environment variable with its client secret; only variables with
#: this prefix may be named, so a setting cannot make the client sign its tokens with SECRET_KEY or send
#: DATABASE_URL's password anywhere.
SECRET_PREFIX = "ZGW_SECRET_"  # noqa: S105 - a variable name prefix, not a secret


def read_secret(variable: str | None, environ: Mapping[str, str]) -> str:
    """The client secret in `variable` of `environ`. Raises ZgwInvalidInput (field `zgw_secret_setting`) when the
    name lacks the ZGW_SECRET_ prefix or the variable is empty; the message names the variable, never its value."""
    if not variable or not variable.startswith(SECRET_PREFIX) or len(variable) == len(SECRET_PREFIX):
        raise ZgwInvalidInput({"zgw_secret_setting": f"Alleen een omgevingsvariabele {SECRET_PREFIX}… is toegestaan."})
    secret = environ.get(variable, "")
    if not secret:
        raise ZgwInvalidInput({"zgw_secret_setting": f"De omgevingsvariabele {variable} is leeg of ontbreekt."})
    return secret


class ZgwStep(StrEnum):
    """The five calls, in the order they are made."""

    ZAAK = "zaak"
    ROL = "rol"
    STATUS = "status"
    INFORMATIEOBJECT = "enkelvoudiginformatieobject"
    ZAAKINFORMATIEOBJECT = "zaakinformatieobject"


class ZgwInvalidInput(ValueError):
    """The configuration or the referral cannot make a valid ZGW request; raised before anything is sent.

    `errors` maps field names to Dutch messages. The message names the fields only, never their values.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("Ongeldige ZGW-gegevens: " + ", ".join(sorted(self.errors)))


@dataclass(frozen=True)
class ZgwProgress:
    """What exists at the municipality so far. Pass it back as `resume` to carry on after a failure."""

    zaak_url: str | None = None
    zaak_identificatie: str = ""
    rol_url: str | None = None
    status_url: str | None = None
    document_url: str | None = None
    zaakinformatieobject_url: str | None = None


@dataclass(frozen=True)
class ZgwResult:
    """The five resources created; `zaak_identificatie` is the municipality's case number, for the counsellor."""

    zaak_url: str
    zaak_identificatie: str
    rol_url: str
    status_url: str
    document_url: str
    zaakinformatieobject_url: str


class ZgwError(Exception):
    """One of the five calls failed. The message names the step, the HTTP status and the server's problem title
    (and the names of any invalid fields); it is safe to log. `detail` and `invalid_params` hold the server's own
    explanation, which may quote the values we sent: show them to the counsellor, do not log them.
    """

    def __init__(
        self,
        step: ZgwStep,
        *,
        status: int | None,
        title: str,
        progress: ZgwProgress,
        code: str = "",
        detail: str = "",
        invalid_params: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        self.step = step
        self.status = status
        self.title = title
        self.code = code
        self.detail = detail
        self.invalid_params = invalid_params
        self.progress = progress
        message = f"ZGW-stap '{step}' mislukt: " + (f"HTTP {status} " if status is not None else "") + title
        if code:
            message += f" ({code})"
        if invalid_params:
            message += "; velden: " + ", ".join(f"{name} ({reason_code})" for name, reason_code, _ in invalid_params)
        super().__init__(message)

    @property
    def zaak_already_exists(self) -> bool:
        """The Zaken API refused the zaak because its identificatie is taken: an earlier attempt for the same
        referral got as far as the zaak (and maybe further) without our hearing of it. Look it up; do not resend."""
        return self.step is ZgwStep.ZAAK and any(
            code == "identificatie-niet-uniek" for _, code, _ in self.invalid_params
        )


@dataclass(frozen=True)
class ZgwConfig:
    """One municipality's ZGW settings: where its APIs live, our credentials there and its catalogue entries.

    The four type URLs point into the municipality's Catalogi API; we never call it, the Zaken and Documenten APIs
    resolve them. `verantwoordelijke_organisatie` defaults to `bronorganisatie` (both RSINs). `timeout` is in
    seconds, per connect and per read. `https_only` (production) refuses plain http even to this machine.
    """

    zaken_api_url: str
    documenten_api_url: str
    client_id: str
    secret: str = field(repr=False)
    bronorganisatie: str
    zaaktype_url: str
    statustype_url: str
    roltype_url: str
    informatieobjecttype_url: str
    verantwoordelijke_organisatie: str = ""
    vertrouwelijkheidaanduiding: str = "vertrouwelijk"
    auteur: str = "Schuldroute"
    timeout: float = 30.0
    https_only: bool = False

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        for name in ("zaken_api_url", "documenten_api_url"):
            _check_api_root(errors, name, getattr(self, name), https_only=self.https_only)
        for name, limit in (
            ("zaaktype_url", 1000),
            ("statustype_url", 1000),
            ("roltype_url", 1000),
            # The Documenten API stores this one in 200 characters, the Zaken API the others in 1000.
            ("informatieobjecttype_url", 200),
        ):
            _check_reference(errors, name, getattr(self, name), limit)
        _check_text(errors, "client_id", self.client_id, 255, required=True)
        _check_text(errors, "secret", self.secret, 1000, required=True)
        _check_rsin(errors, "bronorganisatie", self.bronorganisatie)
        if self.verantwoordelijke_organisatie:
            _check_rsin(errors, "verantwoordelijke_organisatie", self.verantwoordelijke_organisatie)
        if self.vertrouwelijkheidaanduiding not in VERTROUWELIJKHEIDAANDUIDINGEN:
            errors["vertrouwelijkheidaanduiding"] = "Kies uit: " + ", ".join(VERTROUWELIJKHEIDAANDUIDINGEN) + "."
        _check_text(errors, "auteur", self.auteur, 200, required=True)
        if not self.timeout > 0:
            errors["timeout"] = "Moet groter dan 0 zijn."
        if errors:
            raise ZgwInvalidInput(errors)


@dataclass(frozen=True)
class ZgwReferral:
    """What one referral sends. `user_id` and `user_representation` name the counsellor who sends it: they go
    into the token and so into the municipality's audit trail (left empty, the application itself is named).
    `identificatie`, when given, becomes the zaak's
    identificatie; it must be unique within the bronorganisatie, so a stable value per referral makes the Zaken
    API refuse a second zaak for the same referral. Left empty, the municipality numbers the zaak.
    """

    omschrijving: str
    toelichting: str
    startdatum: date
    bsn: str = field(repr=False)
    geslachtsnaam: str = field(repr=False)
    status_toelichting: str
    pdf: bytes = field(repr=False)
    filename: str
    title: str
    voorvoegsel: str = field(default="", repr=False)
    voornamen: str = field(default="", repr=False)
    identificatie: str = ""
    roltoelichting: str = DEFAULT_ROLTOELICHTING
    user_id: str = ""
    user_representation: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        # Limits are the Zaken and Documenten APIs' maxLength for the field each value goes to.
        _check_text(errors, "omschrijving", self.omschrijving, 80, required=True)
        _check_text(errors, "toelichting", self.toelichting, 1000)
        _check_text(errors, "status_toelichting", self.status_toelichting, 1000)
        _check_text(errors, "roltoelichting", self.roltoelichting, 1000, required=True)
        _check_text(errors, "geslachtsnaam", self.geslachtsnaam, 200, required=True)
        _check_text(errors, "voorvoegsel", self.voorvoegsel, 80)
        _check_text(errors, "voornamen", self.voornamen, 200)
        _check_text(errors, "filename", self.filename, 255, required=True)
        _check_text(errors, "title", self.title, 200, required=True)
        _check_text(errors, "identificatie", self.identificatie, 40)
        # The audit trail keeps these two in 255 characters.
        _check_text(errors, "user_id", self.user_id, 255)
        _check_text(errors, "user_representation", self.user_representation, 255)
        if not (len(self.bsn) == 9 and self.bsn.isdigit() and elfproef.is_valid(self.bsn)):
            errors["bsn"] = "Geen geldig BSN (9 cijfers, elfproef)."
        if not self.pdf.startswith(b"%PDF-"):
            errors["pdf"] = "Geen PDF-bestand."
        if errors:
            raise ZgwInvalidInput(errors)


def create_referral_case(
    config: ZgwConfig,
    referral: ZgwReferral,
    *,
    resume: ZgwProgress | None = None,
    now: datetime | None = None,
) -> ZgwResult:
    """Create the zaak, rol, status, document and document link for one referral; return their URLs.

    Raises `ZgwError` naming the failed step, with `progress` holding what was created before it; pass that back
    as `resume` to retry without duplicating those resources. `now` is the moment the status is set and the
    document dated (default: the current time).
    """
    moment = now or datetime.now(UTC)
    done = resume or ZgwProgress()
    token = _token(config, referral)
    zaken = config.zaken_api_url.rstrip("/")
    documenten = config.documenten_api_url.rstrip("/")

    zaak_url = done.zaak_url
    if zaak_url is None:
        body = _zaak_body(config, referral)
        created = _post(ZgwStep.ZAAK, f"{zaken}/zaken", body, token=token, config=config, progress=done, crs=True)
        zaak_url = _created_url(ZgwStep.ZAAK, created, done)
        identificatie = created.get("identificatie")
        done = replace(
            done, zaak_url=zaak_url, zaak_identificatie=identificatie if isinstance(identificatie, str) else ""
        )

    rol_url = done.rol_url
    if rol_url is None:
        body = _rol_body(config, referral, zaak_url)
        created = _post(ZgwStep.ROL, f"{zaken}/rollen", body, token=token, config=config, progress=done)
        rol_url = _created_url(ZgwStep.ROL, created, done)
        done = replace(done, rol_url=rol_url)

    status_url = done.status_url
    if status_url is None:
        body = _status_body(config, referral, zaak_url, moment)
        created = _post(ZgwStep.STATUS, f"{zaken}/statussen", body, token=token, config=config, progress=done)
        status_url = _created_url(ZgwStep.STATUS, created, done)
        done = replace(done, status_url=status_url)

    document_url = done.document_url
    if document_url is None:
        body = _document_body(config, referral, moment)
        url = f"{documenten}/enkelvoudiginformatieobjecten"
        created = _post(ZgwStep.INFORMATIEOBJECT, url, body, token=token, config=config, progress=done)
        document_url = _created_url(ZgwStep.INFORMATIEOBJECT, created, done)
        done = replace(done, document_url=document_url)

    link_url = done.zaakinformatieobject_url
    if link_url is None:
        body = {"informatieobject": document_url, "zaak": zaak_url, "titel": referral.title}
        url = f"{zaken}/zaakinformatieobjecten"
        created = _post(ZgwStep.ZAAKINFORMATIEOBJECT, url, body, token=token, config=config, progress=done)
        link_url = _created_url(ZgwStep.ZAAKINFORMATIEOBJECT, created, done)

    log.info("zgw referral case complete", extra={"zgw_zaak": zaak_url})
    return ZgwResult(
        zaak_url=zaak_url,
        zaak_identificatie=done.zaak_identificatie,
        rol_url=rol_url,
        status_url=status_url,
        document_url=document_url,
        zaakinformatieobject_url=link_url,
    )


# -- request bodies ----------------------------------------------------------------------------------------------


class ZgwClient:
    """The municipal port (schulden.ports.MunicipalClient) over the ZGW APIs (Zaken, Documenten)."""

    def create_referral_case(
        self,
        config: ZgwConfig,
        referral: ZgwReferral,
        *,
        resume: ZgwProgress | None = None,
        now: datetime | None = None,
    ) -> ZgwResult:
        return create_referral_case(config, referral, resume=resume, now=now)


def _zaak_body(config: ZgwConfig, referral: ZgwReferral) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bronorganisatie": config.bronorganisatie,
        "verantwoordelijkeOrganisatie": config.verantwoordelijke_organisatie or config.bronorganisatie,
        "zaaktype": config.zaaktype_url,
        "omschrijving": referral.omschrijving,
        "startdatum": referral.startdatum.isoformat(),
        "vertrouwelijkheidaanduiding": config.vertrouwelijkheidaanduiding,
    }
    if referral.toelichting:
        body["toelichting"] = referral.toelichting
    if referral.identificatie:
        body["identificatie"] = referral.identificatie
    return body


def _rol_body(config: ZgwConfig, referral: ZgwReferral, zaak_url: str) -> dict[str, Any]:
    person: dict[str, str] = {"inpBsn": referral.bsn, "geslachtsnaam": referral.geslachtsnaam}
    if referral.voorvoegsel:
        person["voorvoegselGeslachtsnaam"] = referral.voorvoegsel
    if referral.voornamen:
        person["voornamen"] = referral.voornamen
    return {
        "zaak": zaak_url,
        "betrokkeneType": "natuurlijk_persoon",
        "roltype": config.roltype_url,
        "roltoelichting": referral.roltoelichting,
        "betrokkeneIdentificatie": person,
    }


def _status_body(config: ZgwConfig, referral: ZgwReferral, zaak_url: str, moment: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "zaak": zaak_url,
        "statustype": config.statustype_url,
        "datumStatusGezet": moment.astimezone(UTC).isoformat(),
    }
    if referral.status_toelichting:
        body["statustoelichting"] = referral.status_toelichting
    return body


def _document_body(config: ZgwConfig, referral: ZgwReferral, moment: datetime) -> dict[str, Any]:
    day = moment.astimezone(TIMEZONE).date().isoformat()
    return {
        "bronorganisatie": config.bronorganisatie,
        "creatiedatum": day,
        "titel": referral.title,
        "vertrouwelijkheidaanduiding": config.vertrouwelijkheidaanduiding,
        "auteur": config.auteur,
        # The handover file is final when sent; a later correction is a new referral, not a new version.
        "status": "definitief",
        "formaat": "application/pdf",
        "taal": "nld",
        "bestandsnaam": referral.filename,
        "inhoud": base64.b64encode(referral.pdf).decode("ascii"),
        "bestandsomvang": len(referral.pdf),
        "informatieobjecttype": config.informatieobjecttype_url,
        # Lets the municipality check that the file it stored is the one we sent.
        "integriteit": {"algoritme": "sha_256", "waarde": hashlib.sha256(referral.pdf).hexdigest(), "datum": day},
    }


# -- HTTP --------------------------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a GET without body (and the token sent on to wherever it points):
    treat any redirect as the error it is for these APIs."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _token(config: ZgwConfig, referral: ZgwReferral) -> str:
    claims = {
        "iss": config.client_id,
        # Real time, not the `now` of the call: servers refuse tokens whose iat is too far from their clock.
        "iat": int(time.time()),
        "client_id": config.client_id,
        "user_id": referral.user_id or config.client_id,
        "user_representation": referral.user_representation or config.auteur,
    }
    return jwt.encode(claims, config.secret, algorithm="HS256")


def _post(
    step: ZgwStep,
    url: str,
    body: Mapping[str, Any],
    *,
    token: str,
    config: ZgwConfig,
    progress: ZgwProgress,
    crs: bool = False,
) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {token}",
        # Exactly this: the specs enumerate the Content-Type header, so a charset parameter would not match.
        "Content-Type": "application/json",
        "Accept": "application/json, application/problem+json",
        "X-Audit-Toelichting": AUDIT_TOELICHTING,
        "User-Agent": "Schuldroute-ZGW/1",
    }
    if crs:
        headers |= {"Accept-Crs": CRS, "Content-Crs": CRS}
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    # S310: the API roots were checked to be https (or http on loopback) in ZgwConfig.
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=config.timeout) as response:
            status: int = response.status
            raw: bytes = response.read()
    except urllib.error.HTTPError as error:
        with error:
            problem = _problem(error.read())
        raise _failure(step, error.code, str(error.reason), problem, progress) from None
    except TimeoutError as error:
        raise _unreachable(step, f"geen antwoord binnen {config.timeout:g} s", progress) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise _unreachable(step, f"geen verbinding binnen {config.timeout:g} s", progress) from error
        raise _unreachable(step, "geen verbinding", progress) from error
    except (OSError, http.client.HTTPException) as error:
        raise _unreachable(step, "verbinding verbroken", progress) from error
    try:
        created = json.loads(raw)
    except ValueError:
        created = None
    if not isinstance(created, dict):
        raise ZgwError(step, status=status, title="antwoord is geen JSON-object", progress=progress)
    return created


def _problem(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _failure(step: ZgwStep, status: int, reason: str, problem: Mapping[str, Any], progress: ZgwProgress) -> ZgwError:
    """An RFC 7807 problem answer (ZGW's `Fout`/`ValidatieFout`) turned into a `ZgwError`."""
    title = problem.get("title")
    invalid: list[tuple[str, str, str]] = []
    params = problem.get("invalidParams")
    if isinstance(params, list):
        for item in params:
            if isinstance(item, dict):
                invalid.append((str(item.get("name", "")), str(item.get("code", "")), str(item.get("reason", ""))))
    error = ZgwError(
        step,
        status=status,
        title=(title if isinstance(title, str) and title else reason or "fout")[:200],
        progress=progress,
        code=str(problem.get("code") or "")[:100],
        detail=str(problem.get("detail") or ""),
        invalid_params=tuple(invalid),
    )
    log.warning(
        "zgw step failed",
        extra={"zgw_step": step.value, "http_status": status, "zgw_code": error.code, "zgw_zaak": progress.zaak_url},
    )
    return error


def _unreachable(step: ZgwStep, title: str, progress: ZgwProgress) -> ZgwError:
    log.warning("zgw step failed", extra={"zgw_step": step.value, "zgw_reason": title, "zgw_zaak": progress.zaak_url})
    return ZgwError(step, status=None, title=title, progress=progress)


def _created_url(step: ZgwStep, created: Mapping[str, Any], progress: ZgwProgress) -> str:
    url = created.get("url")
    if not isinstance(url, str) or not url:
        # The server says it created something but not where: a retry may duplicate it (docs/zgw.md).
        raise ZgwError(step, status=201, title="antwoord zonder url", progress=progress)
    log.info("zgw resource created", extra={"zgw_step": step.value, "zgw_url": url})
    return url


# -- input checks --------------------------------------------------------------------------------------------------


def _check_text(errors: dict[str, str], name: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        errors[name] = "Verplicht."
    elif len(value) > limit:
        errors[name] = f"Maximaal {limit} tekens."


def _check_rsin(errors: dict[str, str], name: str, value: str) -> None:
    # An RSIN passes the same eleven test as a BSN; the Zaken and Documenten APIs check it.
    if not (len(value) == 9 and value.isdigit() and elfproef.is_valid(value)):
        errors[name] = "Geen geldig RSIN (9 cijfers, elfproef)."


def _check_api_root(errors: dict[str, str], name: str, value: str, *, https_only: bool = False) -> None:
    parts = urlsplit(value)
    # The token travels with every call: plain http only to this machine (tests, a local tunnel), and in
    # production not even there.
    loopback_http = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS and not https_only
    if not parts.hostname or parts.query or parts.fragment:
        errors[name] = "Geen geldig adres."
    elif parts.scheme != "https" and not loopback_http:
        errors[name] = "Moet een https-adres zijn."


def _check_reference(errors: dict[str, str], name: str, value: str, limit: int) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors[name] = "Geen geldig adres."
    elif len(value) > limit:
        errors[name] = f"Maximaal {limit} tekens."
