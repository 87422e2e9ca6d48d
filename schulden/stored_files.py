"""Files kept in the database: the letters' and referrals' PDFs in production (issue 14).

Web nodes and workers on different machines all reach the database, so a PDF stored here needs no shared folder
(NFS). A letter's PDF is written in the transaction that records the letter as rendered, so a file without its
letter (or a letter without its file) cannot exist. The store itself is integrations/letters/storage.py
(`DatabaseStore`); this is its table. Keys are the folder store's paths, so one can be moved into the other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class StoredFile(Base):
    """One file by key ("letters/<case>/<letter>-<sha>.pdf"); `folder` is the key up to its last "/", for the
    listings the sweeper and the draft clean-up make."""

    __tablename__ = "stored_file"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    folder: Mapped[str] = mapped_column(String(300), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
