"""Who is on the other end of a request, for the login limits and the audit trail of both front doors."""

from __future__ import annotations

from flask import request


def client_address() -> str | None:
    """The client's address. Behind a load balancer, ProxyFix (schulden/app.py, TRUSTED_PROXIES) has already put
    the address the trusted proxies name here, so every limit and audit row sees the client, not the proxy."""
    return request.remote_addr
