"""The ports: what the domain and the front doors ask of the world outside, as typed interfaces.

The implementations live in `integrations/` (a folder of files, RQ or a thread, SMTP, ZGW). A process binds them
once at its entry point, into one `Runtime` with its settings, database and engine: the app factory
(`schulden/app.py`) and the rq worker (`integrations/worker.py`), both through `integrations/assembly.py`. Nothing
here imports Flask or the integrations; code that has a Runtime cannot tell which implementation it got.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from schulden.db import Database
from schulden.letters.models import PrintBatch
from schulden.settings import Settings
from workflows import Actor, Engine

if TYPE_CHECKING:  # the export's module imports the letters, whose services import this one
    from schulden.cases.access_export import AccessExport


class FileStore(Protocol):
    """Where PDFs live, by key (integrations/letters/storage.py): a folder, or the database in production. `put` is
    atomic: a reader never sees half a file. `get` of a key that is not there raises FileNotFoundError."""

    #: True when `put_within` writes in the caller's database transaction (the database store).
    in_database: bool

    def describe(self, key: str) -> str:
        """Where the file is, for a person (a path, or the table)."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key`; returns its SHA-256."""
        ...

    def put_within(self, conn: Connection, key: str, data: bytes) -> str:
        """Store `data` under `key` in `conn`'s transaction where the store can (else as `put`)."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def entries(self, folder: str) -> list[tuple[str, float]]:
        """(key, modification time) of every file directly in `folder`."""
        ...

    def keys(self, prefix: str = "") -> list[str]: ...


class JobQueue(Protocol):
    """Where jobs wait (integrations/queue.py: RQ on Redis, or run at once in the embedded default). Jobs take ids,
    never personal data."""

    #: "rq" or "in-process": the health check reports it.
    mode: str

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        queue: str = "default",
        job_id: str | None = None,
        replace_started_before: datetime | None = None,
    ) -> bool:
        """Whether a job was put on the queue; raises integrations.queue.QueueUnavailable when it cannot be reached."""
        ...

    def waiting_job_ids(self, queue: str, *, started_after: datetime) -> set[str]: ...

    def ping(self) -> bool: ...


class Mailer(Protocol):
    """Sends one PDF by e-mail (integrations/mail/client.py over SMTP). Raises on any failure: the job retries."""

    def send_pdf(self, *, to: str, subject: str, body: str, pdf: bytes, filename: str, message_id: str) -> None: ...


class MunicipalCase(Protocol):
    """What a municipality's register answers for a referral sent as a case (zaak)."""

    @property
    def zaak_url(self) -> str: ...

    @property
    def document_url(self) -> str: ...


class MunicipalClient(Protocol):
    """Creates a referral's case in a municipality's ZGW registers (integrations/municipal/zgw.py). The config and
    the referral are that adapter's own value types: only it speaks the municipality's protocol."""

    def create_referral_case(self, config: Any, referral: Any) -> MunicipalCase: ...


class PrintBatchMaker(Protocol):
    """Merges a PI's rendered post into one stored PDF and marks those letters sent; None when nothing waits. Does
    not commit."""

    def __call__(
        self, session: Session, *, pi_id: int, actor: Actor, today: date, now: datetime
    ) -> PrintBatch | None: ...


class AccessPdfRenderer(Protocol):
    """The detainee's access export (schulden/cases/access_export.py) as a readable PDF in plain Dutch
    (integrations/cases/access_pdf.py). Only renders: nothing is stored, the door streams the bytes."""

    def __call__(self, export: AccessExport) -> bytes: ...


class SystemProbe(Protocol):
    """What the moving parts say about themselves (integrations/status.py), for the status report and /metrics."""

    def workers(self) -> int | None:
        """Live rq workers; None when jobs run in-process; -1 when the queue cannot be asked."""
        ...

    def last_tick(self) -> datetime | None: ...

    def store_writable(self) -> bool: ...


@dataclass(frozen=True)
class Runtime:
    """One process's ports, with the settings, database and engine they were built for: the one holder of each.

    Built by integrations/assembly.py. The pages and the API read the app's through schulden/http/ports.py; jobs
    read their process's through integrations/runtime.py.
    """

    settings: Settings
    database: Database
    engine: Engine
    store: FileStore
    queue: JobQueue
    mailer: Mailer
    municipal: MunicipalClient
    print_batch: PrintBatchMaker
    probe: SystemProbe
    access_pdf: AccessPdfRenderer
