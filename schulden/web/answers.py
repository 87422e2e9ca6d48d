"""The creditors' answers for the counsellor: read one, mark it read, confirm its amounts, enter a paper answer."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("antwoorden", __name__, url_prefix="/dossiers")
