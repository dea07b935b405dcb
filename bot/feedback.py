"""Answer feedback (👍/👎 and an optional comment) in SQLite under the data folder, exported as CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

Rating = Literal["up", "down"]

CSV_COLUMNS = ("message_id", "rating", "comment", "question", "answer", "created_at", "updated_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    message_id TEXT PRIMARY KEY,
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT,
    question   TEXT,
    answer     TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class FeedbackRecord(BaseModel):
    message_id: str
    rating: Rating
    comment: str | None = None
    question: str | None = None
    answer: str | None = None
    created_at: str
    updated_at: str


class FeedbackStore:
    """One row per answer: a second rating for the same message replaces the first (the latest wins)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            # WAL lets several API workers (store = "server") write to the same file.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def save(
        self,
        message_id: str,
        rating: Rating,
        comment: str | None = None,
        question: str | None = None,
        answer: str | None = None,
    ) -> FeedbackRecord:
        """Insert or update the feedback for one answer and return the stored row."""
        if not message_id.strip():
            raise ValueError("message_id: 空にはできません")
        if rating not in ("up", "down"):
            raise ValueError(f"rating: 'up' か 'down' を指定してください（指定: {rating!r}）")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._connect() as db:
            db.execute(
                """
                INSERT INTO feedback (message_id, rating, comment, question, answer, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(message_id) DO UPDATE SET
                    rating = excluded.rating,
                    comment = COALESCE(excluded.comment, feedback.comment),
                    question = COALESCE(excluded.question, feedback.question),
                    answer = COALESCE(excluded.answer, feedback.answer),
                    updated_at = excluded.updated_at
                """,
                (message_id, rating, comment or None, question, answer, now, now),
            )
        record = self.get(message_id)
        assert record is not None
        return record

    def get(self, message_id: str) -> FeedbackRecord | None:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM feedback WHERE message_id = ?", (message_id,)).fetchone()
        return FeedbackRecord(**dict(row)) if row else None

    def all(self) -> list[FeedbackRecord]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM feedback ORDER BY created_at, message_id").fetchall()
        return [FeedbackRecord(**dict(r)) for r in rows]

    def export_csv(self) -> str:
        """All feedback as CSV (UTF-8 with a BOM so that Excel opens the Japanese text correctly)."""
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for record in self.all():
            writer.writerow({k: spreadsheet_safe(v) for k, v in record.model_dump().items()})
        return out.getvalue()


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): = + - @, tab or CR first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Text that Excel or LibreOffice would evaluate (「=HYPERLINK(…)」) gets a leading ' so it stays text."""
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value
