"""Mijn werk: the start page after login (a placeholder until the work lists land)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from schulden.web.auth import login_required

blp = Blueprint("home", __name__)


@blp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return render_template("home.html")
