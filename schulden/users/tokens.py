"""Finding a token's row: an API bearer token and a web session are both rows of api_token, found by the hash of
the token (each door hashes its own way, so neither token opens the other door)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select

from schulden.users.models import ApiToken, User


def token_lookup(*columns: Any) -> Select[Any]:
    """The token's id, revoked_at and expires_at, then `columns` (of the token or its user), for the row whose
    hash is the bound parameter `token_hash`.

    Build it once, at import: it runs on every request, and building a SELECT with its cache key anew costs more
    CPU than executing a ready one (docs/benchmarks.md). Columns, not entities: the checks need no ORM objects.
    """
    return (
        select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, *columns)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )
