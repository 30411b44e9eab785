"""Ingestion end to end: real Chroma in tmp_path, the real bundled model, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, CountingEmbedder

from assistant import store
from assistant.catalog import Catalog
from assistant.errors import IndexModelMismatch
from assistant.settings import Settings
from assistant.store import ChromaStore
from ingest.pipeline import Ingestor

_FILLER = ("Keep a copy of what you send. Include the member number, the date of service and the claim "
           "number on every page. Incomplete requests are returned without review.")
MANUAL_PAGES = [
    ["Section 5: Billing and Payment", "5.1 Whom to Contact",
     "Questions about claim status go to the Provider Assistance Unit at 503-555-0130.", *_FILLER.split(". "),
     "5.2 Timely Filing", "Claims must be received within 365 days of the date of service.",
     *_FILLER.split(". ")],
    ["5.3 Appeals", "Appeal a payment decision within 180 days of the remittance date.",
     "Send appeals by e-mail to nw-claims-appeals@example.org with the claim number.", *_FILLER.split(". ")],
    ["5.4 Overpayments", "Refund an overpayment within 60 days of finding it.",
     "Our Compliance Hotline at 503-555-0150 takes reports of suspected fraud.", *_FILLER.split(". ")],
]


def _corpus(root: Path, pdf_maker) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    pdf_maker(docs / "billing.pdf", MANUAL_PAGES, header="Acme Provider Manual | Section 5",
              footer="2025 edition  Page 5-{n}")
    (docs / "eligibility.md").write_text(
        "# Eligibility\n\n## 3.1 Verifying eligibility\n\nVerify eligibility before every visit. "
        "Call Member Services at 503-555-0110 when the portal is down.\n")
    (docs / "portal.html").write_text(
        "<html><head><title>Portal</title><script>var secret='x'</script></head><body>"
        "<nav>Home | Sign on</nav><main><h1>Medi-Cal portal</h1><h2 id='jil'>Justice Involved Liaison</h2>"
        "<p>E-mail Ji-Liaison@kp.org or call 626-405-5386.</p></main><footer>Copyright</footer></body></html>")
    return docs


def _index(settings: Settings):
    catalog = Catalog(settings.catalog_path)
    name = catalog.active_collection()
    return catalog, ChromaStore.open(settings).get_index(name)


def test_first_ingest_writes_chunks_with_metadata_and_contacts(tmp_path, settings, embedder, pdf_maker):
    docs = _corpus(tmp_path, pdf_maker)
    summary = Ingestor(settings, embedder, progress=False).run([docs])
    assert summary.ok, summary.to_text()
    assert summary.count("added") == 3 and summary.chunks_written > 0
    catalog, index = _index(settings)
    assert index.count() == summary.chunks_written
    chunks = index.get(index.ids())
    billing = [c for c in chunks if c.doc_id == "billing"]
    assert all("Acme Provider Manual" not in c.text and "2025 edition" not in c.text for c in billing)
    assert billing[0].doc_title == "billing", "a junk PDF metadata title must not be shown"
    appeals = next(c for c in billing if "180 days" in c.text)
    assert appeals.page == 2 and appeals.printed_page == "5-2"
    assert appeals.section.startswith("5.3") and appeals.heading_path[0] == "5 Billing and Payment"
    portal = [c for c in chunks if c.doc_id == "portal"]
    assert all("secret" not in c.text and "Sign on" not in c.text for c in portal)
    contacts = {c.value: c for c in catalog.contacts(index.name)}
    assert {"503-555-0130", "nw-claims-appeals@example.org", "503-555-0150", "503-555-0110",
            "Ji-Liaison@kp.org", "626-405-5386"} <= set(contacts)
    assert contacts["503-555-0130"].department == "Provider Assistance Unit"
    assert contacts["626-405-5386"].chunk_id in {c.chunk_id for c in portal}
    meta = index._collection.metadata
    assert meta["embedding_model"] == "all-MiniLM-L6-v2" and meta["dimension"] == 384
    assert index._collection.configuration["hnsw"]["space"] == "cosine"


def test_dense_search_finds_the_right_passage(tmp_path, settings, embedder, pdf_maker):
    docs = _corpus(tmp_path, pdf_maker)
    Ingestor(settings, embedder, progress=False).run([docs])
    _, index = _index(settings)
    hits = index.query(embedder.embed_query("how long do I have to appeal a payment?"), k=3)
    assert "180 days" in hits[0].chunk.text


def test_chunks_and_vectors_are_read_in_batches_in_the_order_asked(tmp_path, settings, embedder, pdf_maker,
                                                                     monkeypatch):
    """Chroma's SQLite refuses a lookup of more than 32,766 ids at once, so reads go in batches; each batch
    must come back in the caller's order, whatever order Chroma answers in."""
    Ingestor(settings, embedder, progress=False).run([_corpus(tmp_path, pdf_maker)])
    _, index = _index(settings)
    ids = sorted(index.ids(), reverse=True)
    whole = index.vectors(ids)
    monkeypatch.setattr(store, "_READ_BATCH", 3)
    assert len(ids) > 3  # more than one batch
    assert [c.chunk_id for c in index.get(ids)] == ids
    assert (index.vectors(ids) == whole).all()


def test_reingest_skips_unchanged_replaces_changed_and_removes_deleted(tmp_path, settings, embedder, pdf_maker):
    docs = _corpus(tmp_path, pdf_maker)
    Ingestor(settings, embedder, progress=False).run([docs])
    catalog, index = _index(settings)
    old_ids = set(catalog.documents(index.name)["eligibility"].chunk_ids)

    embedder.embedded = 0
    again = Ingestor(settings, embedder, progress=False).run([docs])
    assert again.count("unchanged") == 3 and again.chunks_written == 0 and embedder.embedded == 0

    (docs / "eligibility.md").write_text("# Eligibility\n\n## 3.1 Verifying eligibility\n\n"
                                         "Eligibility must now be verified within 24 hours of the visit.\n")
    (docs / "portal.html").unlink()
    changed = Ingestor(settings, embedder, progress=False).run([docs])
    assert (changed.count("updated"), changed.count("unchanged"), changed.count("removed")) == (1, 1, 1)
    catalog, index = _index(settings)
    ids = set(index.ids())
    assert not old_ids & ids, "the old version's chunks must be gone"
    assert not any(i.startswith("portal:") for i in ids)
    assert ids == catalog.live_chunk_ids(index.name)
    assert "626-405-5386" not in {c.value for c in catalog.contacts(index.name)}


def test_interrupted_update_leaves_old_version_live_and_is_swept(tmp_path, settings, embedder, pdf_maker,
                                                                 monkeypatch):
    """A crash between writing new chunks and the catalog switch must not expose a half-written
    document; the next run cleans up and completes the update."""
    docs = _corpus(tmp_path, pdf_maker)
    Ingestor(settings, embedder, progress=False).run([docs])
    catalog, index = _index(settings)
    before = catalog.live_chunk_ids(index.name)
    (docs / "eligibility.md").write_text("# Eligibility\n\n## 3.1 New rule\n\nA brand new eligibility rule.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Catalog, "put_document", crash)
    with pytest.raises(KeyboardInterrupt):
        Ingestor(settings, embedder, progress=False).run([docs])
    monkeypatch.undo()
    catalog, index = _index(settings)
    assert catalog.live_chunk_ids(index.name) == before
    assert set(index.ids()) > before  # orphans of the interrupted write exist but are not live

    done = Ingestor(settings, embedder, progress=False).run([docs])
    assert done.count("updated") == 1
    catalog, index = _index(settings)
    assert set(index.ids()) == catalog.live_chunk_ids(index.name)


def test_opening_an_index_built_with_another_model_fails_clearly(tmp_path, settings, real_embedder, pdf_maker):
    docs = _corpus(tmp_path, pdf_maker)
    Ingestor(settings, CountingEmbedder(real_embedder), progress=False).run([docs])
    other = CountingEmbedder(real_embedder, name="/models/other-model")
    summary = Ingestor(settings, other, progress=False).run([docs])
    assert not summary.ok and "--rebuild" in summary.error and "other-model" in summary.error
    _, index = _index(settings)
    with pytest.raises(IndexModelMismatch):
        index.check_model("/models/other-model")
    rebuilt = Ingestor(settings, other, progress=False).run([docs], rebuild=True)
    assert rebuilt.ok and rebuilt.count("added") == 3
    _, index = _index(settings)
    assert index.model_name == "/models/other-model"
    # a running service searches the old collection until it swaps to the new index: the next ingest drops it
    assert len(ChromaStore.open(settings).index_names()) == 2
    assert Ingestor(settings, other, progress=False).run([docs]).count("unchanged") == 3
    assert len(ChromaStore.open(settings).index_names()) == 1, "the old collection is dropped"


def test_failed_rebuild_keeps_the_previous_index(tmp_path, settings, embedder, pdf_maker):
    docs = _corpus(tmp_path, pdf_maker)
    Ingestor(settings, embedder, progress=False).run([docs])
    catalog, index = _index(settings)
    live = catalog.live_chunk_ids(index.name)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>")
    summary = Ingestor(settings, embedder, progress=False).run([docs], rebuild=True)
    assert not summary.ok and "previous index" in summary.error
    catalog, index2 = _index(settings)
    assert index2.name == index.name and catalog.live_chunk_ids(index.name) == live


def _bad_folder(root: Path, pdf_maker) -> Path:
    folder = root / "mixed"
    folder.mkdir()
    pdf_maker(folder / "good.pdf", MANUAL_PAGES, header="Acme Provider Manual")
    data = (folder / "good.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    pdf_maker(folder / "encrypted.pdf", MANUAL_PAGES, encrypt="s3cret")
    (folder / "empty.pdf").write_bytes(b"")
    with zipfile.ZipFile(folder / "notes.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    (folder / "latin1.txt").write_bytes("Caf\xe9 claims policy".encode("latin-1"))
    pdf_maker(folder / "scanned.pdf", [[] for _ in range(3)], footer=None)
    return folder


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "provider_assistant_cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)


def test_bad_inputs_are_reported_by_name_and_the_rest_ingests(tmp_path, pdf_maker):
    folder = _bad_folder(tmp_path, pdf_maker)
    result = _cli("ingest", str(folder), "--data-dir", str(tmp_path / "d"), "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] == 1 and summary["failed"] == 6
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failures"]}
    assert "truncated" in reasons["truncated.pdf"]
    assert "encrypted" in reasons["encrypted.pdf"]
    assert "empty" in reasons["empty.pdf"]
    assert "unsupported file type '.docx'" in reasons["notes.docx"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "no text layer" in reasons["scanned.pdf"]
    human = _cli("ingest", str(folder), "--data-dir", str(tmp_path / "d"))
    assert human.returncode == 1 and "Traceback" not in human.stdout + human.stderr
    assert "FAILED" in human.stdout and "notes.docx" in human.stdout and "1 unchanged" in human.stdout


def test_cli_usage_errors_exit_2_and_help_explains():
    assert _cli("ingest", "--no-such-flag").returncode == 2
    assert _cli("ingest", "/no/such/path").returncode == 2
    assert _cli().returncode == 2
    helptext = _cli("ingest", "--help")
    assert helptext.returncode == 0
    for words in ("--rebuild", "--json", "--data-dir", "manifest.yaml", "exit status"):
        assert words in helptext.stdout


def test_bundled_corpus_ingests_without_failures(corpus_index):
    summary = corpus_index.summary
    assert summary.ok, summary.to_text()
    assert summary.count("added") == 24
    catalog, index = _index(corpus_index.settings)
    contacts = {c.value for c in catalog.contacts(index.name)}
    assert {"503-813-3376", "503-813-3810", "Ji-Liaison@kp.org", "626-405-5386",
            "Medicaid-PROV-Team@kp.org", "Medi-Cal-State-Programs@kp.org"} <= contacts
    chunks = index.get(index.ids())
    assert all(c.token_count <= 256 for c in chunks)
    assert sum("sample for demonstration" in c.text for c in chunks) == 0
    s05 = [c for c in chunks if c.doc_id == "nw-manual-s05" and c.section.startswith("5.")]
    assert s05 and all(c.printed_page and c.printed_page.startswith("5-") for c in s05)
