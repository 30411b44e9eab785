"""The catalog: an SQLite file in the data dir recording what the index holds.

It is the index's source of truth. A document's new version becomes live in one SQLite
transaction (its record, its chunk ids and its contacts switch together); chunks in the vector
store that no record names are leftovers of an interrupted write and are ignored, then swept.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.schema import Contact

# The meta key a completed ingest bumps; a service follows it (see IndexSnapshot.open and server.IndexFollower).
INDEX_VERSION = "index_version"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    region TEXT,
    edition TEXT,
    status TEXT NOT NULL,
    url TEXT,
    page_count INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    chunk_ids TEXT NOT NULL,
    ingested_at REAL NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
CREATE TABLE IF NOT EXISTS contacts (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    value TEXT NOT NULL,
    kind TEXT NOT NULL,
    department TEXT,
    context TEXT NOT NULL,
    section TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    page INTEGER,
    printed_page TEXT,
    region TEXT
);
CREATE INDEX IF NOT EXISTS contacts_by_doc ON contacts (collection, doc_id);
"""


def read_index_version(path: Path) -> str | None:
    """The index version in a catalog file, read without writing (a service polls it while ingests write)."""
    if not path.is_file():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (INDEX_VERSION,)).fetchone()
    except sqlite3.OperationalError:  # no meta table yet: a first ingest has only just begun
        return None
    finally:
        db.close()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class DocumentRecord:
    """One ingested document version."""

    doc_id: str
    source_path: str
    content_hash: str
    title: str
    kind: str
    region: str | None
    edition: str | None
    status: str
    url: str | None
    page_count: int
    chunk_count: int
    chunk_ids: tuple[str, ...]
    ingested_at: float = 0.0


class Catalog:
    """Access to the catalog file. One connection; callers serialise writes with the ingest lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def active_collection(self) -> str | None:
        return self.get_meta("active_collection")

    def index_version(self) -> str | None:
        """The version of the last complete ingest; None while the first one is still running."""
        return self.get_meta(INDEX_VERSION)

    def documents(self, collection: str) -> dict[str, DocumentRecord]:
        rows = self._db.execute(
            "SELECT doc_id, source_path, content_hash, title, kind, region, edition, status, url, "
            "page_count, chunk_count, chunk_ids, ingested_at FROM documents WHERE collection = ?",
            (collection,),
        ).fetchall()
        return {
            r[0]: DocumentRecord(*r[:11], chunk_ids=tuple(json.loads(r[11])), ingested_at=r[12])  # type: ignore[misc]
            for r in rows
        }

    def live_chunk_ids(self, collection: str) -> set[str]:
        ids: set[str] = set()
        for (blob,) in self._db.execute("SELECT chunk_ids FROM documents WHERE collection = ?", (collection,)):
            ids.update(json.loads(blob))
        return ids

    def put_document(self, collection: str, record: DocumentRecord, contacts: list[Contact]) -> None:
        """Make a document version live with its contacts (call inside :meth:`transaction`)."""
        self.delete_document(collection, record.doc_id)
        fields = asdict(record)
        fields["chunk_ids"] = json.dumps(list(record.chunk_ids))
        fields["ingested_at"] = time.time()
        self._db.execute(
            "INSERT INTO documents (collection, doc_id, source_path, content_hash, title, kind, region, "
            "edition, status, url, page_count, chunk_count, chunk_ids, ingested_at) VALUES "
            "(:collection, :doc_id, :source_path, :content_hash, :title, :kind, :region, :edition, "
            ":status, :url, :page_count, :chunk_count, :chunk_ids, :ingested_at)",
            {"collection": collection, **fields},
        )
        self._db.executemany(
            "INSERT INTO contacts (collection, doc_id, value, kind, department, context, section, "
            "chunk_id, page, printed_page, region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(collection, c.doc_id, c.value, c.kind, c.department, c.context, c.section, c.chunk_id,
              c.page, c.printed_page, c.region) for c in contacts],
        )

    def delete_document(self, collection: str, doc_id: str) -> None:
        self._db.execute("DELETE FROM documents WHERE collection = ? AND doc_id = ?", (collection, doc_id))
        self._db.execute("DELETE FROM contacts WHERE collection = ? AND doc_id = ?", (collection, doc_id))

    def forget_collection(self, collection: str) -> None:
        self._db.execute("DELETE FROM documents WHERE collection = ?", (collection,))
        self._db.execute("DELETE FROM contacts WHERE collection = ?", (collection,))

    def contacts(self, collection: str) -> list[Contact]:
        rows = self._db.execute(
            "SELECT value, kind, context, department, doc_id, chunk_id, section, page, printed_page, region "
            "FROM contacts WHERE collection = ? ORDER BY doc_id, rowid",
            (collection,),
        ).fetchall()
        return [Contact(value=r[0], kind=r[1], context=r[2], department=r[3], doc_id=r[4], chunk_id=r[5],
                        section=r[6], page=r[7], printed_page=r[8], region=r[9]) for r in rows]
