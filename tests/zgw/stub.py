"""A ZGW stub: the Zaken API 1.5.1 and the Documenten API 1.5.0 or 1.4.3 on 127.0.0.1, in a thread.

Every request is validated against the official OpenAPI files in shared/data/zgw (openapi-core: path, method,
headers, security, body), and so is every response the stub itself sends back, so a test cannot pass on a response
a real server could never give. Where the specs are looser than the servers, the stub is stricter:

- `format: uri` and `format: uuid` are checked (openapi-core leaves them to optional packages);
- a body whose schema has a discriminator (the rol) is also checked against the schema the discriminator maps to,
  which the validators skip, so the BSN in `betrokkeneIdentificatie` really is checked;
- a field the schema does not know is refused; a real server drops it without a word, and the value is lost;
- the checks a server makes beyond the schema (the type URLs exist, zaak and document URLs exist, RSIN and BSN
  pass the eleven test, `inhoud` decodes to `bestandsomvang` bytes, identificatie is unique) are made here too.

A request that fails any of these is answered 400 (ValidatieFout) and listed in `problems`; a response that fails
the spec is listed in `response_errors`, which the `zgw_stub` fixture requires to be empty after each test.
What arrived is kept in `received`, the created resources in `zaken`, `rollen`, ... and the decoded PDFs in `files`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import yaml
from jsonschema import FormatChecker
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from stdnum.nl import bsn as elfproef
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parents[2]
#: The copies in tests/zgw/specs (a clean clone needs nothing beside it); shared/ only as a fallback.
SPEC_DIRS = (Path(__file__).parent / "specs", ROOT.parent / "shared" / "data" / "zgw", Path("/work/shared/data/zgw"))
ZAKEN_SPEC = "zaken-api-1.5.1.openapi.yaml"
DOCUMENTEN_SPECS = {"1.5.0": "documenten-api-1.5.0.openapi.yaml", "1.4.3": "documenten-api-1.4.3.openapi.yaml"}

#: Our stand-ins for Open Zaak's JWT_EXPIRY (how old an iat may be) and JWT_LEEWAY (clock skew), in seconds.
TOKEN_MAX_AGE = 3600
TOKEN_LEEWAY = 60


def spec_dir() -> Path:
    for directory in SPEC_DIRS:
        if (directory / ZAKEN_SPEC).is_file():
            return directory
    raise FileNotFoundError(f"ZGW OpenAPI files not found in {', '.join(map(str, SPEC_DIRS))}")


@functools.cache
def _load(name: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 500 kB files in 0.3 s, not 4
    with (spec_dir() / name).open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 (a safe loader, picked above)
    return spec


# -- formats openapi-core leaves unchecked ---------------------------------------------------------------------------


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https", "urn") and bool(parts.netloc or parts.scheme == "urn") and " " not in value


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


EXTRA_FORMATS: dict[str, Callable[[object], bool]] = {"uri": _is_uri, "uuid": _is_uuid}


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(OAS30WriteValidator.FORMAT_CHECKER)
    for name, check in EXTRA_FORMATS.items():
        checker.checks(name)(check)
    return checker


class ApiSpec:
    """One official OpenAPI file, served at `root` instead of the VNG address in its `servers`."""

    def __init__(self, name: str, root: str) -> None:
        self.name = name
        self.spec = copy.deepcopy(_load(name))
        self.version: str = self.spec["info"]["version"]
        self.spec["servers"] = [{"url": root}]
        config = Config(
            extra_format_validators=EXTRA_FORMATS,
            # openapi-core reads application/json only; the error answers are RFC 7807 problem documents.
            extra_media_type_deserializers={"application/problem+json": json.loads},
        )
        self.openapi = OpenAPI.from_dict(self.spec, config=config)
        base = f"urn:zgw:{name}"
        self._base = base
        self._registry: Registry[Any] = Registry().with_resource(
            base, Resource.from_contents(self.spec, default_specification=DRAFT4)
        )
        self._checker = _format_checker()

    # The body schemas of the operations the stub serves, for the checks below.
    def request_schema(self, path: str, method: str) -> dict[str, Any]:
        operation = self.spec["paths"][path][method]
        return self.resolve(operation["requestBody"]["content"]["application/json"]["schema"])

    def response_schema(self, path: str, method: str, status: str) -> dict[str, Any]:
        operation = self.spec["paths"][path][method]
        return self.resolve(operation["responses"][status]["content"]["application/json"]["schema"])

    def resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            ref: str = schema["$ref"]
            schema = self.spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return dict(schema)

    def validate_mapped(self, schema: Mapping[str, Any], instance: Any, *, writing: bool) -> list[str]:
        """Validate against the schema a discriminator maps to: the validators themselves skip discriminators
        that are not beside a oneOf/anyOf, as in the Zaken API's Rol."""
        target = self._mapped(schema, instance)
        if target is None:
            return []
        validator_cls = OAS30WriteValidator if writing else OAS30ReadValidator
        validator = validator_cls({"$ref": f"{self._base}{target}"}, registry=self._registry)
        validator.format_checker = self._checker
        return [f"{_path(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]

    def unknown_fields(self, schema: Mapping[str, Any], instance: Any, path: str = "") -> list[str]:
        """Field names the schema (with its allOf parts and discriminator target) does not define."""
        if not isinstance(instance, dict):
            return []
        parts = list(self._parts(schema, instance))
        # Free-form objects, and oneOf/anyOf alternatives (none in the bodies we send), are left to the validators.
        if any("additionalProperties" in part for part in parts) or not any("properties" in part for part in parts):
            return []
        properties: dict[str, list[Mapping[str, Any]]] = {}
        for part in parts:
            for key, subschema in part.get("properties", {}).items():
                properties.setdefault(key, []).append(subschema)
        errors = [f"{path}{key}: onbekend veld" for key in instance if key not in properties]
        for key, subschemas in properties.items():
            value = instance.get(key)
            merged = {"allOf": subschemas}
            if isinstance(value, dict):
                errors += self.unknown_fields(merged, value, f"{path}{key}.")
            elif isinstance(value, list):
                items = [part["items"] for part in self._parts(merged, None) if "items" in part]
                for index, item in enumerate(value):
                    errors += self.unknown_fields({"allOf": items}, item, f"{path}{key}[{index}].")
        return errors

    def _parts(
        self, schema: Mapping[str, Any], instance: Any, seen: frozenset[str] = frozenset()
    ) -> Iterator[dict[str, Any]]:
        resolved = self.resolve(schema)
        yield resolved
        for member in resolved.get("allOf", ()):
            yield from self._parts(member, None, seen)
        target = self._mapped(resolved, instance)
        if target is not None and target not in seen:
            yield from self._parts({"$ref": target}, None, seen | {target})

    def _mapped(self, schema: Mapping[str, Any], instance: Any) -> str | None:
        discriminator = self.resolve(schema).get("discriminator")
        if not discriminator or not isinstance(instance, dict):
            return None
        mapping: dict[str, str] = discriminator.get("mapping", {})
        return mapping.get(str(instance.get(discriminator["propertyName"])))


def _path(parts: Iterable[object]) -> str:
    return ".".join(str(part) for part in parts) or "(body)"


def _messages(error: BaseException) -> list[str]:
    """The schema errors inside an openapi-core exception, one line each."""
    lines = [f"{type(error).__name__}: {str(error)[:300]}"]
    cause = error.__cause__
    for schema_error in getattr(cause, "schema_errors", ()) or ():
        lines.append(f"  {_path(schema_error.absolute_path)}: {schema_error.message}")
    return lines


# -- the server --------------------------------------------------------------------------------------------------


@dataclass
class Received:
    """One request as it arrived, without its Authorization header."""

    operation: str
    body: Any
    headers: dict[str, str]


@dataclass
class Catalogue:
    """The municipality's catalogue entries, as URLs the stub accepts (it does not serve the Catalogi API)."""

    zaaktype: str
    statustype: str
    roltype: str
    informatieobjecttype: str


class _Refused(Exception):
    def __init__(self, status: int, code: str, title: str, invalid: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__(title)
        self.status, self.code, self.title, self.invalid = status, code, title, invalid or []


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # pytest shows failures; one line per request would only bury them


Handler = Callable[["ZgwStub", Any], dict[str, Any]]

ROUTES: list[tuple[str, str, str, str]] = [
    # (api, path in the spec, operationId, path relative to the API root)
    ("zaken", "/zaken", "zaak_create", "zaken"),
    ("zaken", "/rollen", "rol_create", "rollen"),
    ("zaken", "/statussen", "status_create", "statussen"),
    ("zaken", "/zaakinformatieobjecten", "zaakinformatieobject_create", "zaakinformatieobjecten"),
    (
        "documenten",
        "/enkelvoudiginformatieobjecten",
        "enkelvoudiginformatieobject_create",
        "enkelvoudiginformatieobjecten",
    ),
]


class ZgwStub:
    """See the module docstring. Start once per session; `reset()` between tests."""

    def __init__(self, *, client_id: str, secret: str) -> None:
        self.client_id = client_id
        self.secret = secret
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._wsgi, request_handler=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.zaken_url = f"{self.base_url}/zaken/api/v1"
        self.documenten_url = f"{self.base_url}/documenten/api/v1"
        catalogi = f"{self.base_url}/catalogi/api/v1"
        self.catalogue = Catalogue(
            zaaktype=f"{catalogi}/zaaktypen/{uuid.uuid4()}",
            statustype=f"{catalogi}/statustypen/{uuid.uuid4()}",
            roltype=f"{catalogi}/roltypen/{uuid.uuid4()}",
            informatieobjecttype=f"{catalogi}/informatieobjecttypen/{uuid.uuid4()}",
        )
        self.zaken_api = ApiSpec(ZAKEN_SPEC, self.zaken_url)
        self.documenten_apis = {
            version: ApiSpec(name, self.documenten_url) for version, name in DOCUMENTEN_SPECS.items()
        }
        self._thread = threading.Thread(target=self._server.serve_forever, name="zgw-stub", daemon=True)
        self._lock = threading.Lock()
        self.reset()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reset(self, *, documenten_version: str = "1.5.0") -> None:
        self.documenten_api = self.documenten_apis[documenten_version]
        self.secret_in_use = self.secret
        self.received: list[Received] = []
        self.tokens: list[dict[str, Any]] = []
        self.raw_tokens: list[str] = []
        self.problems: list[str] = []
        self.response_errors: list[str] = []
        #: operationId -> HTTP status to answer with instead of doing the work (a 5xx, a 403, ...)
        self.fail: dict[str, int] = {}
        #: operationId -> seconds to wait before answering (the work is done all the same, as on a slow server)
        self.delay: dict[str, float] = {}
        #: operationIds whose 201 answer loses a required field: proves the responses are checked
        self.corrupt: set[str] = set()
        self.zaken: dict[str, dict[str, Any]] = {}
        self.rollen: dict[str, dict[str, Any]] = {}
        self.statussen: dict[str, dict[str, Any]] = {}
        self.documenten: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.zaakinformatieobjecten: dict[str, dict[str, Any]] = {}
        self._counter = 0

    def operations(self) -> list[str]:
        return [item.operation for item in self.received]

    # -- WSGI ----------------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            try:
                response = self._handle(request)
            except Exception as error:  # a bug in the stub must fail the test, not hang the client
                self.response_errors.append(f"stub crashed: {type(error).__name__}: {error}")
                response = Response("stub crashed", status=500)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        route = self._route(request)
        if route is None:
            self.problems.append(f"{request.method} {request.path}: no such operation in the specs")
            return Response(status=404)
        api, spec_path, operation, _ = route
        try:
            body = json.loads(request.get_data())
        except ValueError:
            body = None
        self.received.append(
            Received(operation, body, {k: v for k, v in request.headers.items() if k.lower() != "authorization"})
        )
        request_problems = self._check_request(api, spec_path, request, body)
        self.problems += [f"{operation}: {line}" for line in request_problems]

        try:
            self._check_token(request)
            if request_problems:
                raise _Refused(
                    400,
                    "invalid",
                    "Invalid input.",
                    [("nonFieldErrors", "invalid", line.strip()) for line in request_problems],
                )
            if operation in self.fail:
                status = self.fail[operation]
                raise _Refused(status, "error", "Er is een serverfout opgetreden." if status >= 500 else "Fout.")
            handler: Handler = HANDLERS[operation]
            resource = handler(self, body)
            if operation in self.corrupt:
                resource.pop("url")
            response = self._created(api, resource)
        except _Refused as refused:
            response = self._problem(refused)
        if operation in self.delay:
            time.sleep(self.delay[operation])
        self._check_response(api, spec_path, request, response)
        return response

    def _route(self, request: Request) -> tuple[ApiSpec, str, str, str] | None:
        if request.method != "POST":
            return None
        for api_name, spec_path, operation, relative in ROUTES:
            api = self.zaken_api if api_name == "zaken" else self.documenten_api
            root = self.zaken_url if api_name == "zaken" else self.documenten_url
            if f"{self.base_url}{request.path}" == f"{root}/{relative}":
                return api, spec_path, operation, relative
        return None

    # -- checks --------------------------------------------------------------------------------------------------

    def _check_request(self, api: ApiSpec, spec_path: str, request: Request, body: Any) -> list[str]:
        problems: list[str] = []
        try:
            api.openapi.validate_request(WerkzeugOpenAPIRequest(request))
        except OpenAPIError as error:
            problems += _messages(error)
        if isinstance(body, dict):
            schema = api.request_schema(spec_path, "post")
            problems += api.validate_mapped(schema, body, writing=True)
            problems += api.unknown_fields(schema, body)
        return problems

    def _check_response(self, api: ApiSpec, spec_path: str, request: Request, response: Response) -> None:
        where = f"{request.method} {request.path} -> {response.status_code}"
        try:
            api.openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        except OpenAPIError as error:
            self.response_errors += [f"{where}: {line}" for line in _messages(error)]
        if response.status_code == 201:
            schema = api.response_schema(spec_path, "post", "201")
            data = json.loads(response.get_data())
            self.response_errors += [f"{where}: {line}" for line in api.validate_mapped(schema, data, writing=False)]

    def _check_token(self, request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            raise _Refused(401, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven.")
        self.raw_tokens.append(token)
        try:
            if jwt.get_unverified_header(token).get("typ") != "JWT":
                raise jwt.InvalidTokenError("typ")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret_in_use,
                algorithms=["HS256"],
                leeway=TOKEN_LEEWAY,
                options={"require": ["iss", "iat"]},
            )
        except jwt.InvalidTokenError:
            raise _Refused(401, "not_authenticated", "Ongeldige authenticatiegegevens.") from None
        self.tokens.append(claims)
        if not (claims.get("client_id") == claims.get("iss") == self.client_id):
            raise _Refused(403, "permission_denied", "Client identifier bestaat niet.")
        if time.time() - claims["iat"] > TOKEN_MAX_AGE:
            raise _Refused(401, "not_authenticated", "Het JWT is verlopen.")
        for claim in ("user_id", "user_representation"):
            if not isinstance(claims.get(claim), str):
                raise _Refused(401, "not_authenticated", f"Claim {claim} ontbreekt.")

    # -- answers -------------------------------------------------------------------------------------------------

    def _created(self, api: ApiSpec, resource: dict[str, Any]) -> Response:
        response = Response(json.dumps(resource), status=201, content_type="application/json")
        response.headers["API-version"] = api.version
        if "url" in resource:
            response.headers["Location"] = resource["url"]
        if api is self.zaken_api and "zaaktype" in resource:
            response.headers["Content-Crs"] = "EPSG:4326"
        return response

    def _problem(self, refused: _Refused) -> Response:
        api_version = self.zaken_api.version
        body: dict[str, Any] = {
            "type": f"{self.base_url}/ref/fouten/{refused.code}/",
            "code": refused.code,
            "title": refused.title,
            "status": refused.status,
            "detail": refused.title,
            "instance": f"urn:uuid:{uuid.uuid4()}",
        }
        if refused.status == 400:
            body["invalidParams"] = [{"name": n, "code": c, "reason": r} for n, c, r in refused.invalid]
        response = Response(json.dumps(body), status=refused.status, content_type="application/problem+json")
        response.headers["API-version"] = api_version
        return response

    def _new(self, root: str, collection: str) -> tuple[str, str]:
        self._counter += 1
        key = str(uuid.uuid4())
        return key, f"{root}/{collection}/{key}"


# -- the five operations: the checks a server makes beyond the schema, then the resource it returns -------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _check_rsin(invalid: list[tuple[str, str, str]], name: str, value: Any) -> None:
    if not (isinstance(value, str) and len(value) == 9 and value.isdigit() and elfproef.is_valid(value)):
        invalid.append((name, "invalid", "Onjuist RSIN: voldoet niet aan de elfproef."))


def _refuse_if(invalid: list[tuple[str, str, str]]) -> None:
    if invalid:
        raise _Refused(400, "invalid", "Invalid input.", invalid)


def _zaak_create(stub: ZgwStub, body: dict[str, Any]) -> dict[str, Any]:
    invalid: list[tuple[str, str, str]] = []
    if body.get("zaaktype") != stub.catalogue.zaaktype:
        invalid.append(("zaaktype", "bad-url", "De URL verwijst niet naar een zaaktype in de catalogus."))
    _check_rsin(invalid, "bronorganisatie", body.get("bronorganisatie"))
    _check_rsin(invalid, "verantwoordelijkeOrganisatie", body.get("verantwoordelijkeOrganisatie"))
    identificatie = body.get("identificatie") or f"ZAAK-2026-{stub._counter + 1:010d}"
    if any(
        z["identificatie"] == identificatie and z["bronorganisatie"] == body.get("bronorganisatie")
        for z in stub.zaken.values()
    ):
        invalid.append(("identificatie", "identificatie-niet-uniek", "Deze identificatie bestaat al."))
    _refuse_if(invalid)
    key, url = stub._new(stub.zaken_url, "zaken")
    zaak = {
        "url": url,
        "uuid": key,
        "identificatie": identificatie,
        "bronorganisatie": body["bronorganisatie"],
        "omschrijving": body.get("omschrijving", ""),
        "toelichting": body.get("toelichting", ""),
        "zaaktype": body["zaaktype"],
        "registratiedatum": body.get("registratiedatum") or datetime.now(UTC).date().isoformat(),
        "verantwoordelijkeOrganisatie": body["verantwoordelijkeOrganisatie"],
        "startdatum": body["startdatum"],
        "einddatum": None,
        "einddatumGepland": None,
        "uiterlijkeEinddatumAfdoening": None,
        "publicatiedatum": None,
        "productenOfDiensten": [],
        "vertrouwelijkheidaanduiding": body.get("vertrouwelijkheidaanduiding", "openbaar"),
        "betalingsindicatie": "",
        "betalingsindicatieWeergave": "",
        "laatsteBetaaldatum": None,
        # No "zaakgeometrie": null (nor "verblijfsadres": null on the rol), though Open Zaak sends it: the spec puts
        # `nullable` beside an allOf without `type`, which OAS 3.0.3 says has no effect, so null fails the schema.
        "verlenging": None,
        "opschorting": {"indicatie": False, "reden": ""},
        "hoofdzaak": None,
        "deelzaken": [],
        "relevanteAndereZaken": [],
        "eigenschappen": [],
        "rollen": [],
        "status": None,
        "zaakinformatieobjecten": [],
        "zaakobjecten": [],
        "kenmerken": [],
        "archiefnominatie": None,
        "archiefstatus": "nog_te_archiveren",
        "archiefactiedatum": None,
        "resultaat": None,
        "startdatumBewaartermijn": None,
        "processobject": None,
    }
    stub.zaken[url] = zaak
    return copy.deepcopy(zaak)


def _known_zaak(stub: ZgwStub, invalid: list[tuple[str, str, str]], body: dict[str, Any]) -> dict[str, Any] | None:
    zaak = stub.zaken.get(body.get("zaak", ""))
    if zaak is None:
        invalid.append(("zaak", "bad-url", "Ongeldige hyperlink - Object bestaat niet."))
    return zaak


def _rol_create(stub: ZgwStub, body: dict[str, Any]) -> dict[str, Any]:
    invalid: list[tuple[str, str, str]] = []
    zaak = _known_zaak(stub, invalid, body)
    if body.get("roltype") != stub.catalogue.roltype:
        invalid.append(("roltype", "bad-url", "Het roltype hoort niet bij het zaaktype."))
    person = body.get("betrokkeneIdentificatie") or {}
    bsn = person.get("inpBsn", "")
    if not (len(bsn) == 9 and bsn.isdigit() and elfproef.is_valid(bsn)):
        invalid.append(("betrokkeneIdentificatie.inpBsn", "invalid", "Onjuist BSN: voldoet niet aan de elfproef."))
    _refuse_if(invalid)
    assert zaak is not None
    key, url = stub._new(stub.zaken_url, "rollen")
    rol = {
        "url": url,
        "uuid": key,
        "zaak": body["zaak"],
        "betrokkeneType": body["betrokkeneType"],
        "roltype": body["roltype"],
        "omschrijving": "Cliënt",
        "omschrijvingGeneriek": "belanghebbende",
        "roltoelichting": body["roltoelichting"],
        "registratiedatum": _now(),
        "indicatieMachtiging": "",
        "contactpersoonRol": None,
        "statussen": [],
        "betrokkeneIdentificatie": dict(person),
    }
    stub.rollen[url] = rol
    zaak["rollen"].append(url)
    return copy.deepcopy(rol)


def _status_create(stub: ZgwStub, body: dict[str, Any]) -> dict[str, Any]:
    invalid: list[tuple[str, str, str]] = []
    zaak = _known_zaak(stub, invalid, body)
    if body.get("statustype") != stub.catalogue.statustype:
        invalid.append(("statustype", "bad-url", "Het statustype hoort niet bij het zaaktype."))
    _refuse_if(invalid)
    assert zaak is not None
    key, url = stub._new(stub.zaken_url, "statussen")
    status = {
        "url": url,
        "uuid": key,
        "zaak": body["zaak"],
        "statustype": body["statustype"],
        "datumStatusGezet": body["datumStatusGezet"],
        "statustoelichting": body.get("statustoelichting", ""),
        "indicatieLaatstGezetteStatus": True,
        "zaakinformatieobjecten": [],
    }
    for earlier in stub.statussen.values():
        if earlier["zaak"] == body["zaak"]:
            earlier["indicatieLaatstGezetteStatus"] = False
    stub.statussen[url] = status
    zaak["status"] = url
    return copy.deepcopy(status)


def _document_create(stub: ZgwStub, body: dict[str, Any]) -> dict[str, Any]:
    invalid: list[tuple[str, str, str]] = []
    if body.get("informatieobjecttype") != stub.catalogue.informatieobjecttype:
        invalid.append(("informatieobjecttype", "bad-url", "Onbekend informatieobjecttype."))
    _check_rsin(invalid, "bronorganisatie", body.get("bronorganisatie"))
    try:
        content = base64.b64decode(body.get("inhoud") or "", validate=True)
    except (binascii.Error, ValueError):
        content = b""
        invalid.append(("inhoud", "invalid", "Geen geldige base64."))
    if body.get("bestandsomvang") is not None and body["bestandsomvang"] != len(content):
        invalid.append(("bestandsomvang", "file-size", "Bestandsomvang komt niet overeen met de inhoud."))
    integriteit = body.get("integriteit")
    checksum = integriteit.get("waarde") if integriteit and integriteit.get("algoritme") == "sha_256" else None
    if checksum is not None and checksum != hashlib.sha256(content).hexdigest():
        invalid.append(("integriteit.waarde", "invalid", "Checksum komt niet overeen met de inhoud."))
    _refuse_if(invalid)
    _, url = stub._new(stub.documenten_url, "enkelvoudiginformatieobjecten")
    document = {
        "url": url,
        "identificatie": body.get("identificatie") or f"DOCUMENT-2026-{stub._counter:010d}",
        "bronorganisatie": body["bronorganisatie"],
        "creatiedatum": body["creatiedatum"],
        "titel": body["titel"],
        "vertrouwelijkheidaanduiding": body.get("vertrouwelijkheidaanduiding", "openbaar"),
        "auteur": body["auteur"],
        "status": body.get("status", ""),
        "formaat": body.get("formaat", ""),
        "taal": body["taal"],
        "versie": 1,
        "beginRegistratie": _now(),
        "bestandsnaam": body.get("bestandsnaam", ""),
        "inhoud": f"{url}/download?versie=1",
        "bestandsomvang": len(content),
        "beschrijving": body.get("beschrijving", ""),
        "ontvangstdatum": None,
        "verzenddatum": None,
        "indicatieGebruiksrecht": None,
        "verschijningsvorm": "",
        "ondertekening": None,
        "integriteit": integriteit,
        "informatieobjecttype": body["informatieobjecttype"],
        "locked": False,
        "bestandsdelen": [],
        "trefwoorden": [],
    }
    stub.documenten[url] = document
    stub.files[url] = content
    return copy.deepcopy(document)


def _zaakinformatieobject_create(stub: ZgwStub, body: dict[str, Any]) -> dict[str, Any]:
    invalid: list[tuple[str, str, str]] = []
    zaak = _known_zaak(stub, invalid, body)
    document_url = body.get("informatieobject", "")
    if document_url not in stub.documenten:
        invalid.append(("informatieobject", "bad-url", "Ongeldige hyperlink - Object bestaat niet."))
    if any(
        z["zaak"] == body.get("zaak") and z["informatieobject"] == document_url
        for z in stub.zaakinformatieobjecten.values()
    ):
        invalid.append(("nonFieldErrors", "unique", "De velden zaak, informatieobject moeten een unieke set zijn."))
    _refuse_if(invalid)
    assert zaak is not None
    key, url = stub._new(stub.zaken_url, "zaakinformatieobjecten")
    link = {
        "url": url,
        "uuid": key,
        "informatieobject": document_url,
        "zaak": body["zaak"],
        "aardRelatieWeergave": "Hoort bij, omgekeerd: kent",
        "titel": body.get("titel", ""),
        "beschrijving": body.get("beschrijving", ""),
        "registratiedatum": _now(),
        "vernietigingsdatum": None,
        "status": None,
    }
    stub.zaakinformatieobjecten[url] = link
    zaak["zaakinformatieobjecten"].append(url)
    return copy.deepcopy(link)


HANDLERS: dict[str, Handler] = {
    "zaak_create": _zaak_create,
    "rol_create": _rol_create,
    "status_create": _status_create,
    "enkelvoudiginformatieobject_create": _document_create,
    "zaakinformatieobject_create": _zaakinformatieobject_create,
}


def matching(items: Iterable[str], pattern: str) -> list[str]:
    """The lines that match `pattern` (a regular expression), for assertions on `problems`."""
    regex = re.compile(pattern)
    return [item for item in items if regex.search(item)]
