"""What makes ingestion cheaper without making its vectors depend on how the work was split: sentences encoded
in padded batches, headings embedded once, and an index updated document by document agreeing bit for bit with
one built fresh."""

from __future__ import annotations

import numpy as np

from assistant.adapter import cache_path as adapter_cache_path
from assistant.adapter import query_adapter
from assistant.index import IndexSnapshot
from assistant.sentences import cache_path, sentence_vectors
from assistant.settings import Settings
from ingest.pipeline import Ingestor
from tests.conftest import CountingEmbedder

SENTENCES = [
    "Claims must be received within 365 days of the date of service.",
    "Call Member Services.",
    "Yes.",
    "Send the signed attestation to the provider team by e-mail within 30 days of the training, and keep a copy "
    "in the practitioner's file for audits.",
    "Corrected or replacement claim 180 days",
    "PO Box 83720, Boise, ID 83720-0009",
]


def test_a_sentences_vector_does_not_depend_on_the_sentences_encoded_with_it(real_embedder):
    """Sentences were encoded one a pass (20 minutes of a 170-page manual's ingest) because a batch padded to its
    longest text moves the last float bits of the shorter ones, and the query adapter fitted on them moved a
    question across the top 5 between an index built fresh and one updated document by document. Padded to a
    length of their own, they come out the same in any company, order or batch size."""
    together = np.asarray(real_embedder.embed_documents(SENTENCES), dtype=np.float32)
    apart = np.asarray([real_embedder.embed_documents([s])[0] for s in SENTENCES], dtype=np.float32)
    reversed_ = np.asarray(real_embedder.embed_documents(SENTENCES[::-1])[::-1], dtype=np.float32)
    many = SENTENCES + [f"Item {n}: submit form {n} to the plan before the end of the month." for n in range(40)]
    crowded = np.asarray(real_embedder.embed_documents(many)[:len(SENTENCES)], dtype=np.float32)
    for other in (apart, reversed_, crowded):
        assert np.array_equal(together, other)


def test_sentence_vectors_mean_what_the_model_says_alone(real_embedder):
    """Padding must not change what a sentence means: each vector is within 1e-4
    cosine of the model's vector of the sentence encoded alone (a text cut short would be far off)."""
    batched = np.asarray(real_embedder.embed_documents(SENTENCES), dtype=np.float32)
    alone = np.asarray(real_embedder.embed_documents(SENTENCES), dtype=np.float32)
    assert np.all(np.sum(batched * alone, axis=1) > 1 - 1e-4)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


DOCS = {
    "claims.md": """# Claims

## 1 Timely Filing

Claims received after the filing limit are denied and the member may not be billed for them.
Kaiser Permanente must receive an initial claim within 365 days of the date of service.

## 2 Claim Status

Check claim status on the portal before calling the claims unit.
""",
    "referrals.md": """# Referrals

## 1 When a Referral Is Needed

A referral is needed before a member sees a specialist outside the medical group, a facility that is not
contracted with the plan, or any provider for a service the member's benefit plan lists as needing review,
and the referring practitioner must attach the visit notes that support the request.
Submit the referral through the portal; urgent referrals are decided within 72 hours.

## 2 Contacts

Call the referral line at 503-555-0100 with questions about a referral you submitted.
""",
}


def _ingest(data_dir, docs_dir, embedder) -> IndexSnapshot:
    settings = Settings(data_dir=data_dir)
    summary = Ingestor(settings, embedder, progress=False).run([docs_dir])
    assert summary.ok, summary.to_text()
    return IndexSnapshot.open(settings)


def test_an_index_updated_document_by_document_has_the_fresh_indexs_sentence_vectors_and_adapter(tmp_path,
                                                                                              real_embedder):
    """The reason sentences were encoded one at a time: an index updated incrementally and one built fresh must
    agree bit for bit, sentence vectors and the adapter fitted on them included. The second document holds the
    longest sentence, so a batch padded to its longest text would pad the first document's sentences
    differently in the two runs."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "claims.md").write_text(DOCS["claims.md"])
    _ingest(tmp_path / "updated", docs, real_embedder)
    (docs / "referrals.md").write_text(DOCS["referrals.md"])
    updated = _ingest(tmp_path / "updated", docs, real_embedder)
    fresh = _ingest(tmp_path / "fresh", docs, real_embedder)
    assert sorted(updated.chunks) == sorted(fresh.chunks)

    caches = [np.load(cache_path(tmp_path / d, real_embedder.name)) for d in ("updated", "fresh")]
    assert len(caches[0]["keys"]) > 0 and np.array_equal(caches[0]["keys"], caches[1]["keys"])
    assert np.array_equal(caches[0]["vectors"], caches[1]["vectors"])

    adapters = [np.load(adapter_cache_path(tmp_path / d, s.collection))["matrix"]
                for d, s in (("updated", updated), ("fresh", fresh))]
    assert np.array_equal(adapters[0], adapters[1])


def test_the_adapter_embeds_each_distinct_heading_once(corpus_index, real_embedder, tmp_path):
    """Every chunk's heading was embedded, one a pass: the same heading once per chunk under it."""
    settings = corpus_index.settings
    snapshot = IndexSnapshot.open(settings)
    sentences = sentence_vectors(settings.data_dir, snapshot, real_embedder)
    counting = CountingEmbedder(real_embedder)
    assert query_adapter(tmp_path, snapshot, counting, sentences) is not None  # nothing cached in tmp_path: fitted
    headings = {c.heading_path[-1] if c.heading_path else c.doc_title for c in snapshot.chunks.values()}
    assert counting.embedded == sum(sentences.get(h) is None for h in headings) < len(snapshot.chunks)


def test_a_chunks_vector_does_not_depend_on_the_chunks_encoded_with_it(real_embedder):
    """Chunks are encoded as sentences are, grouped by padded length: a chunk's vector is the same encoded alone,
    among others or in another order, so an index updated document by document equals one built fresh."""
    chunks = [" ".join(SENTENCES[: n + 2]) * (n + 1) for n in range(6)]
    together = np.asarray(real_embedder.embed_documents(chunks), dtype=np.float32)
    apart = np.asarray([real_embedder.embed_documents([c])[0] for c in chunks], dtype=np.float32)
    reversed_ = np.asarray(real_embedder.embed_documents(chunks[::-1])[::-1], dtype=np.float32)
    for other in (apart, reversed_):
        assert np.array_equal(together, other)
    # and they mean what the model says of each chunk alone, at its own batch size
    plain = real_embedder.model.encode(chunks, normalize_embeddings=True)
    assert float(np.min(np.sum(together * plain, axis=1))) > 1 - 1e-4


def test_a_long_pdfs_pages_extracted_in_two_processes_read_as_in_one(tmp_path, pdf_maker, monkeypatch):
    """A long PDF's second half is extracted by a child process meanwhile this one extracts the first: the text
    is page for page what one process extracts, and a child that cannot run leaves its pages to this process."""
    import ingest.pdf as pdf

    pages = [[f"Section {n}.{k} Claims for service {n * 10 + k} are due within {n + k} days." for k in range(8)]
             for n in range(pdf._PARALLEL_MIN_PAGES + 6)]
    path = pdf_maker(tmp_path / "long.pdf", pages)
    parallel, _ = pdf.load_pdf_pages(path)
    monkeypatch.setattr(pdf, "_PARALLEL_MIN_PAGES", 10 ** 6)
    serial, _ = pdf.load_pdf_pages(path)
    assert parallel == serial and len(serial) == len(pages) and "service 291" in serial[-1]
    monkeypatch.setattr(pdf, "_PARALLEL_MIN_PAGES", 2)
    monkeypatch.setattr(pdf.sys, "executable", str(tmp_path / "no-such-python"))
    assert pdf.load_pdf_pages(path)[0] == serial
