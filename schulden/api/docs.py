"""GET /api/docs: a readable list of the API's operations, generated from the OpenAPI document.

Served by us, without third-party scripts or a CDN (the API documentation is part of the product).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

blp = Blueprint("api_docs", __name__)


@blp.get("/api/docs")
def api_docs() -> ResponseReturnValue:
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "responses": sorted(op.get("responses", {})),
                }
            )
    return render_template("api_docs.html", info=spec["info"], operations=operations)
