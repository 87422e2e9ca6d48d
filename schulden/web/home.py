"""The start page: what this service is and where to go next."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

blp = Blueprint("home", __name__)


@blp.get("/")
def index() -> ResponseReturnValue:
    return render_template("home.html")
