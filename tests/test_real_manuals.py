"""The real Idaho Medicaid handbooks: text nobody here wrote (skipped where the folder is absent)."""

from __future__ import annotations

import pytest
from conftest import REAL_MANUALS, CountingEmbedder

from assistant.catalog import Catalog
from assistant.settings import Settings
from assistant.store import ChromaStore
from ingest.pipeline import Ingestor

pytestmark = pytest.mark.skipif(not REAL_MANUALS.is_dir(), reason="../shared/real-manuals is absent")

TITLE_LINES = ("Idaho Medicaid Provider Handbook General Billing Instructions",
               "Idaho Medicaid Provider Handbook General Information and Requirements for Providers")
REQUIREMENTS = "idaho-medicaid-handbook-general-provider-requirements-2025-07"
BILLING = "idaho-medicaid-handbook-general-billing-2025-07"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, real_embedder):
    settings = Settings(data_dir=tmp_path_factory.mktemp("real") / "data")
    embedder = CountingEmbedder(real_embedder)
    summary = Ingestor(settings, embedder, progress=False).run([REAL_MANUALS])
    catalog = Catalog(settings.catalog_path)
    index = ChromaStore.open(settings).get_index(catalog.active_collection())
    return settings, embedder, summary, catalog, index, index.get(index.ids())


def test_both_handbooks_ingest_into_hundreds_of_chunks(ingested):
    _, _, summary, *_ = ingested
    assert (summary.count("added"), summary.count("failed")) == (2, 0), summary.to_text()
    assert summary.chunks_written > 300


def test_running_title_line_is_gone_from_chunks(ingested):
    *_, chunks = ingested
    for title in TITLE_LINES:
        share = sum(title in " ".join(c.text.split()) for c in chunks) / len(chunks)
        assert share < 0.05, (title, share)
    assert not any("July 1, 2025 Page" in " ".join(c.text.split()) for c in chunks)


def test_every_chunk_fits_the_model_window_and_has_its_place(ingested, real_embedder):
    *_, chunks = ingested
    counts = real_embedder.count_tokens([c.embed_text for c in chunks])
    assert max(counts) <= 256
    numbered = [c for c in chunks if c.heading_path]
    assert len(numbered) / len(chunks) > 0.95
    assert all(c.page and c.printed_page for c in numbered)


@pytest.mark.parametrize(("doc", "section_prefix", "pdf_page", "printed"), [
    (REQUIREMENTS, "1.1 Employees and Contractors", 11, "5"),  # checked by hand: "Page 5 of 162"
    (REQUIREMENTS, "3.7 Prohibition on Gifts to Participants", 41, "35"),
    (BILLING, "1.12.3 Participant Retroactive Eligibility", 41, "37"),
])
def test_printed_pages_match_the_handbook(ingested, doc, section_prefix, pdf_page, printed):
    *_, chunks = ingested
    hit = next(c for c in chunks if c.doc_id == doc and c.section == section_prefix)
    assert (hit.page, hit.printed_page) == (pdf_page, printed)


def test_top_level_outline_matches_the_contents(ingested):
    *_, chunks = ingested
    tops = {c.heading_path[0] for c in chunks if c.doc_id == BILLING and c.heading_path}
    assert {"1 Medicaid Billing Policies", "2 Claim Form Instructions", "3 Required Coding", "4 Claim Submission",
            "5 Adjustments", "6 Claim Reconsideration and Appeals", "7 Third Party Liability"} <= tops


def test_contacts_are_found_as_printed(ingested):
    _, _, _, catalog, index, _ = ingested
    values = {c.value for c in catalog.contacts(index.name)}
    assert "BLTCQA@dhw.idaho.gov" in values and "MedicaidAppeals@dhw.idaho.gov" in values
    assert any("(866) 686-4272" in v for v in values)


def test_unchanged_reingest_embeds_nothing(ingested):
    settings, embedder, *_ = ingested
    embedder.embedded = 0
    again = Ingestor(settings, embedder, progress=False).run([REAL_MANUALS])
    assert (again.count("unchanged"), again.chunks_written, embedder.embedded) == (2, 0, 0)


def test_the_sample_agreements_clauses_are_not_sections(ingested):
    """The requirements handbook's Appendix A prints a provider agreement; its clause 9.2 is not section 9.2."""
    *_, chunks = ingested
    sections = {c.section for c in chunks if c.doc_id == REQUIREMENTS}
    assert not [s for s in sections if s.startswith("9.2 PROVIDER")]
    assert any(s.startswith("9.2 Experimental") for s in sections)
