"""Where PDFs live: a folder (the embedded default), or the database (production: no shared disk).

Both are the FileStore port of schulden/ports.py, by the same keys. A folder's files are written atomically (a
temporary file, fsync, rename), so a reader never sees half a file. The database store writes a row; a letter's
PDF is written by `put_within` in the transaction that records the letter as rendered (integrations/letters/jobs.py),
so a PDF without its letter cannot be left behind. An S3-compatible store can follow behind the same port once it
can be tested against a real server.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from schulden.stored_files import StoredFile
from workflows.store import utcnow


class FileStore:
    """Files under one root. `put` writes to a temporary file in the same folder, fsyncs, then renames."""

    #: Writes outside any database transaction: a letter's PDF is written before its record (jobs.py).
    in_database = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.path(key))

    def put_within(self, conn: Connection, key: str, data: bytes) -> str:
        """A file cannot join a transaction: the same as `put`."""
        return self.put(key, data)

    def path(self, key: str) -> Path:
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key outside the store: {key!r}")
        return candidate

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` atomically; returns its SHA-256."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Named after its target, so that a temporary file left by a killed writer says whose it was.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".tmp-{target.name}-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def entries(self, folder: str) -> list[tuple[str, float]]:
        """(key, modification time) of every file directly in `folder`, temporary files included."""
        found: list[tuple[str, float]] = []
        try:
            with os.scandir(self.path(folder)) as entries:
                for entry in entries:
                    try:
                        if entry.is_file():
                            found.append((f"{folder}/{entry.name}", entry.stat().st_mtime))
                    except FileNotFoundError:  # removed while we looked
                        continue
        except FileNotFoundError:
            return []
        return found

    def keys(self, prefix: str = "") -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
        )


_COLUMNS = ("key", "folder", "data", "size_bytes", "sha256", "created_at")


class DatabaseStore:
    """Files as rows of `stored_file` (schulden/stored_files.py), reached by every web node and worker.

    `put` writes in a transaction of its own (an upsert: a reply draft is written again under its key);
    `put_within` writes in the caller's, which is how a letter's PDF and its record commit or roll back together.
    Reading one file reads one row; a missing key raises FileNotFoundError, as the folder store does.
    """

    in_database = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Built once with bind parameters: a letter's record runs it for every PDF, and building the
        # INSERT ... ON CONFLICT construct anew each time was Python work on every letter (issue 16).
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(StoredFile).values({name: bindparam(name) for name in _COLUMNS})
        excluded = statement.excluded
        self._upsert_statement = statement.on_conflict_do_update(
            index_elements=[StoredFile.key],
            set_={name: excluded[name] for name in ("data", "size_bytes", "sha256", "created_at")},
        )

    def describe(self, key: str) -> str:
        return f"stored_file {key}"

    def _upsert(self, key: str, data: bytes) -> tuple[dict[str, Any], str]:
        sha = hashlib.sha256(data).hexdigest()
        values = {"key": key, "folder": key.rpartition("/")[0], "data": data, "size_bytes": len(data),
                  "sha256": sha, "created_at": utcnow()}  # fmt: skip
        return values, sha

    def put(self, key: str, data: bytes) -> str:
        values, sha = self._upsert(key, data)
        with self.engine.begin() as conn:
            conn.execute(self._upsert_statement, values)
        return sha

    def put_within(self, conn: Connection, key: str, data: bytes) -> str:
        values, sha = self._upsert(key, data)
        conn.execute(self._upsert_statement, values)
        return sha

    def get(self, key: str) -> bytes:
        with self.engine.connect() as conn:
            data = conn.scalar(select(StoredFile.data).where(StoredFile.key == key))
        if data is None:
            raise FileNotFoundError(f"not in the store: {key}")
        return bytes(data)

    def delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(StoredFile).where(StoredFile.key == key))

    def entries(self, folder: str) -> list[tuple[str, float]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(StoredFile.key, StoredFile.created_at).where(StoredFile.folder == folder.rstrip("/"))
            ).all()
        return [(key, _timestamp(created)) for key, created in rows]

    def keys(self, prefix: str = "") -> list[str]:
        with self.engine.connect() as conn:
            query = select(StoredFile.key).order_by(StoredFile.key)
            if prefix:
                query = query.where(StoredFile.key.startswith(prefix, autoescape=True))
            return list(conn.scalars(query))


def _timestamp(moment: datetime) -> float:
    # SQLite gives the stored moment back without its zone; it was stored in UTC.
    return moment.timestamp() if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo).timestamp()
