"""Third-party CSS served by the app at /static/vendor/..., and what the base layout needs (links, main menu).

The NL Design System files come from pinned npm packages that `npm ci` installs into node_modules (the Makefile's
install targets run it); they are never committed and never loaded from a CDN. Only the files named in VENDOR_FILES
are served, so nothing else in node_modules is reachable. Their URLs carry the package version, so a browser may
keep them for a year and still fetches the new file after an upgrade.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, g, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from schulden.http.ports import settings
from schulden.roles import Role

log = logging.getLogger(__name__)

blp = Blueprint("vendor", __name__)

#: The repository's own node_modules (an editable install or a checkout); ASSETS_DIR overrides it.
DEFAULT_ASSETS_PATH = Path(__file__).resolve().parents[2] / "node_modules"


@dataclass(frozen=True)
class VendorFile:
    package: str
    path: str  # inside the package


#: URL name -> file. The Utrecht components (EUPL-1.2) and the "voorbeeld" theme (EUPL-1.2), ecosystem.md 6.
VENDOR_FILES = {
    "utrecht/index.css": VendorFile("@utrecht/component-library-css", "dist/index.css"),
    "voorbeeld/theme.css": VendorFile("@nl-design-system-unstable/voorbeeld-design-tokens", "dist/theme.css"),
}
#: Vendor files are the same for every user and versioned in their URL.
VENDOR_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role] | None = None  # None: every signed-in user


#: The main menu. An item shows once a blueprint registers its endpoint, so pages can be added one by one.
NAVIGATION: tuple[NavItem, ...] = (
    NavItem("home.index", "Mijn werk"),
    NavItem("dossiers.index", "Dossiers", frozenset(Role) - {Role.ADMIN}),
    NavItem("intake.start", "Nieuwe intake", frozenset({Role.PI_STAFF, Role.VOLUNTEER})),
    NavItem("printbatch.index", "Printbatch", frozenset({Role.PI_STAFF, Role.COUNSELLOR})),
    NavItem("gemeente.inbox", "Inbox gemeente", frozenset({Role.MUNICIPALITY})),
    NavItem("verwijzing.referral_list", "Verwijzingen", frozenset({Role.COUNSELLOR})),
    # The roles of schulden.figures.queries.FIGURE_READERS: volunteers and partners do not read figures.
    NavItem("cijfers.index", "Cijfers", frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY, Role.ADMIN})),
    NavItem("beheer.index", "Beheer", frozenset({Role.ADMIN})),
)


def assets_path() -> Path:
    return settings().assets_path or DEFAULT_ASSETS_PATH


@cache
def _package_version(root: Path, package: str) -> str:
    try:
        return str(json.loads((root / package / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "0"


def vendor_url(name: str) -> str:
    """The URL of a vendor file, with its package version so caches notice an upgrade."""
    item = VENDOR_FILES[name]
    return url_for("vendor.file", filename=name, v=_package_version(assets_path(), item.package))


@blp.get("/static/vendor/<path:filename>")
def file(filename: str) -> ResponseReturnValue:
    item = VENDOR_FILES.get(filename)
    if item is None:
        abort(404)
    folder = assets_path() / item.package
    return send_from_directory(folder, item.path, max_age=VENDOR_MAX_AGE)


def main_navigation() -> list[dict[str, object]]:
    """The menu items this user may see whose pages exist, with the current one marked."""
    actor = g.get("web_actor")
    if actor is None:
        return []
    endpoints = current_app.view_functions
    current_blueprint = request.blueprint
    items: list[dict[str, object]] = []
    for item in NAVIGATION:
        if item.endpoint not in endpoints or (item.roles is not None and actor.role not in item.roles):
            continue
        blueprint = item.endpoint.rpartition(".")[0]
        current = request.endpoint == item.endpoint or (blueprint != "home" and blueprint == current_blueprint)
        items.append({"url": url_for(item.endpoint), "label": item.label, "current": current})
    return items


def missing_files(root: Path) -> list[str]:
    return [f"{f.package}/{f.path}" for f in VENDOR_FILES.values() if not (root / f.package / f.path).is_file()]


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    app.jinja_env.globals["vendor_url"] = vendor_url
    app.jinja_env.globals["main_navigation"] = main_navigation
    missing = missing_files(settings(app).assets_path or DEFAULT_ASSETS_PATH)
    if missing:
        # The pages still work, unstyled; say how to get the CSS rather than fail the start.
        log.warning("web assets missing: run `npm ci` (make run does)", extra={"missing": missing})
