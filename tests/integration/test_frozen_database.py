"""A database that stops answering without closing its connections (SIGSTOP, a hung host) must cost a request a
few seconds and an error, never a hang (issue 14; the fault drill tests/drills/test_postgres_frozen.py found the
pooled connection's check waiting without limit).

The test puts a TCP relay between the engine and the test PostgreSQL and freezes the relay: connections stay open,
nothing comes back, as with a frozen server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from schulden.db import PING_DEADLINE, make_engine
from tests.conftest import DatabaseUnderTest


class FreezingRelay:
    """Relays TCP to the database; `frozen` stops every byte in both directions without closing anything."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        self.thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), name="relay", daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        source.settimeout(0.1)
        while not self.stopped.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set() and not self.stopped.is_set():  # received as the freeze began: held
                time.sleep(0.05)
            try:
                target.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        for sock in self.sockets:
            sock.close()
        self.thread.join(timeout=2)


@pytest.fixture
def relay(pg_database: DatabaseUnderTest) -> Iterator[tuple[FreezingRelay, str]]:
    url = make_url(pg_database.url)
    relay = FreezingRelay(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    finally:
        relay.close()


def test_a_frozen_database_costs_a_checkout_seconds_not_a_hang(relay: tuple[FreezingRelay, str]) -> None:
    proxy, url = relay
    engine = make_engine(url, connect_timeout=2, statement_timeout=30, pool_timeout=2)
    try:
        with engine.connect() as conn:  # the pool now holds a connection, as a web worker's does
            assert conn.scalar(text("SELECT 1")) == 1
        proxy.frozen.set()

        outcome: list[BaseException | None] = []

        def checkout() -> None:
            try:
                with engine.connect() as conn:
                    conn.scalar(text("SELECT 1"))
                outcome.append(None)
            except BaseException as exc:  # handed to the test's thread
                outcome.append(exc)

        started = time.monotonic()
        attempt = threading.Thread(target=checkout, name="checkout")
        attempt.start()
        attempt.join(timeout=20)
        took = time.monotonic() - started
        if attempt.is_alive():  # the defect: thaw, so that the thread ends, and fail
            proxy.frozen.clear()
            attempt.join(timeout=20)
            pytest.fail(f"a checkout on a frozen database still waited after {took:.0f} s")
        assert isinstance(outcome[0], OperationalError), outcome

        # The pooled connection's check gives up after PING_DEADLINE, the new connection after the connect timeout.
        assert took < PING_DEADLINE + 2 + 2, f"a checkout on a frozen database took {took:.1f} s"
        proxy.frozen.clear()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1, "a thawed database is used again without a restart"
    finally:
        proxy.frozen.clear()
        engine.dispose()
