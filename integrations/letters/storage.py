"""Where PDFs live: a folder by default, written atomically so a reader never sees half a file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class FileStore:
    """Files under one root. `put` writes to a temporary file in the same folder, fsyncs, then renames."""

    def __init__(self, root: Path) -> None:
        self.root = root

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
