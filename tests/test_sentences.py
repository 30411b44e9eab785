"""Sentence vectors for answer selection: cached in the data dir, pruned, recomputed when unreadable, and
used to pick the sentence that states the fact asked for."""

from __future__ import annotations

import numpy as np

from assistant.index import IndexSnapshot
from assistant.sentences import SentenceVectors, cache_path, chunk_sentences, quotable_sentences, sentence_vectors
from ingest.pipeline import Ingestor
from tests.conftest import CountingEmbedder

DOC = """# Claims

## 1 Timely Filing

Claims received after the filing limit are denied and the member may not be billed for them.
Kaiser Permanente must receive an initial claim within 365 days of the date of service.

## 2 Claim Status

Check claim status on the portal before calling the claims unit.
"""


def _ingest(tmp_path, settings, embedder, text=DOC):
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "claims.md").write_text(text)
    summary = Ingestor(settings, embedder, progress=False).run([docs])
    assert summary.ok, summary.to_text()
    return IndexSnapshot.open(settings)


def test_ingest_caches_every_sentence_and_a_second_load_embeds_nothing(tmp_path, settings, embedder):
    snapshot = _ingest(tmp_path, settings, embedder)
    path = cache_path(settings.data_dir, embedder.name)
    assert path.is_file()
    texts = chunk_sentences(snapshot.chunks.values())
    assert any("365 days" in t for t in texts)
    counting = CountingEmbedder(embedder.inner)
    vectors = sentence_vectors(settings.data_dir, snapshot, counting)
    assert counting.embedded == 0
    assert all(vectors.get(t) is not None for t in texts)
    v = vectors.get(texts[0])
    assert v is not None and abs(float(np.linalg.norm(v)) - 1.0) < 1e-3


def test_changed_document_embeds_only_new_sentences_and_prunes_old_ones(tmp_path, settings, embedder):
    _ingest(tmp_path, settings, embedder)
    changed = DOC.replace("Check claim status on the portal before calling the claims unit.",
                          "Claim status is shown on the portal the day after a claim is received.")
    counting = CountingEmbedder(embedder.inner)
    snapshot = _ingest(tmp_path, settings, counting, changed)
    cached = SentenceVectors.load(cache_path(settings.data_dir, embedder.name), embedder.dimension)
    assert cached.get("Check claim status on the portal before calling the claims unit.") is None
    assert cached.get("Claim status is shown on the portal the day after a claim is received.") is not None
    assert len(cached) == len(set(chunk_sentences(snapshot.chunks.values())))


def test_unreadable_cache_is_recomputed_not_fatal(tmp_path, settings, embedder):
    snapshot = _ingest(tmp_path, settings, embedder)
    path = cache_path(settings.data_dir, embedder.name)
    path.write_bytes(b"not a numpy archive")
    counting = CountingEmbedder(embedder.inner)
    vectors = sentence_vectors(settings.data_dir, snapshot, counting)
    assert counting.embedded == len(set(chunk_sentences(snapshot.chunks.values())))
    assert SentenceVectors.load(path, embedder.dimension).get(
        "Kaiser Permanente must receive an initial claim within 365 days of the date of service.") is not None
    assert len(vectors) == counting.embedded


def test_a_heading_caught_in_a_passage_is_never_quoted_as_an_answer():
    from assistant.answer import candidate_sentences
    from assistant.retrieval import Hit
    from assistant.schema import Chunk

    text = ("Providers must complete FWA training within 90 days of hire and every year after that.\n"
            "9.4.1 Compliance and FWA Training\nSplit Claims\nCorrected or replacement claim 180 days\n"
            "Send Claims Here.")
    chunk = Chunk(chunk_id="c1", doc_id="doc", doc_title="Manual", text=text, embed_text=text, source_path="m.pdf",
                  url=None, section="9.4 Training", heading_path=("Training",), sections=("9.4",), page=1,
                  page_end=1, printed_page="1", region=None, edition=None, status="current", doc_hash="h",
                  chunk_hash="h1", n=0, token_count=40)
    quoted = [s.text for s in candidate_sentences([Hit(chunk, 1.0, 0.5, 1.0)])]
    assert quoted[0].startswith("Providers must complete FWA training")
    assert "9.4.1 Compliance and FWA Training" not in quoted and "Split Claims" not in quoted
    assert "Corrected or replacement claim 180 days" in quoted and "Send Claims Here." in quoted


def test_a_list_item_is_quoted_with_the_sentence_introducing_its_list():
    """An item ("Inpatient room and board;") is about what its lead-in says ("Only these services are covered for
    inmates:"), and is quoted with it: alone it does not say what it is an item of."""
    from assistant.answer import candidate_sentences, pick_sentences
    from assistant.retrieval import Hit
    from assistant.schema import Chunk

    text = ("Eligibility for incarcerated participants is available retroactively.\n"
            "Only these services are covered for inmates, when all other requirements are met:\n"
            "Inpatient room and board;\nAncillary services directly related to the inpatient stay; and\n"
            "Professional services during the stay.\nInmates must also have an inpatient status of a day or more.")
    chunk = Chunk(chunk_id="c1", doc_id="doc", doc_title="Manual", text=text, embed_text=text, source_path="m.pdf",
                  url=None, section="6.10 Incarcerated Persons", heading_path=("Incarcerated Persons",),
                  sections=("6.10",), page=1, page_end=1, printed_page="1", region=None, edition=None,
                  status="current", doc_hash="h", chunk_hash="h1", n=0, token_count=60)
    found = {s.text: s.lead for s in candidate_sentences([Hit(chunk, 1.0, 0.5, 1.0)])}
    lead = "Only these services are covered for inmates, when all other requirements are met:"
    assert found["Inpatient room and board;"] == lead
    assert found["Professional services during the stay."] == lead  # the list's last item
    assert found["Inmates must also have an inpatient status of a day or more."] == ""  # after the list
    picked = [p.sentence.text for p in pick_sentences([Hit(chunk, 1.0, 0.5, 1.0)], "is room and board paid?",
                                                       "is room and board paid?", {})]
    assert "Inpatient room and board;" in picked and lead in picked


def test_a_time_question_prefers_a_sentence_stating_a_time_even_spelled_out():
    from assistant.answer import Sentence, score_sentence
    from assistant.schema import Chunk

    chunk = Chunk(chunk_id="c1", doc_id="doc", doc_title="Manual", text="", embed_text="", source_path="m.pdf",
                  url=None, section="6.8 Interpreters", heading_path=("Interpreters",), sections=("6.8",), page=1,
                  page_end=1, printed_page="1", region=None, edition=None, status="current", doc_hash="h",
                  chunk_hash="h1", n=0, token_count=40)
    words = {"interpreter": 1.0}
    spelled = Sentence("Book an interpreter at least three business days before the visit.", chunk, 0, 0)
    none = Sentence("Book an interpreter by calling Interpreter Services for the visit.", chunk, 0, 0)
    for question in ("how long before the visit do we book an interpreter?",
                     "how much notice does the interpreter need", "how far ahead do we book an interpreter?"):
        assert score_sentence(spelled, words, question, urgent=False) > score_sentence(none, words, question,
                                                                                      urgent=False), question


def test_a_how_many_question_prefers_the_sentence_stating_a_count_and_a_short_code_counts():
    from assistant.answer import pick_sentences
    from assistant.retrieval import Hit
    from assistant.schema import Chunk

    text = ("Electronic professional claims are split by the submitter when they run long.\n"
            "Each professional claim carries one date of service per row.\n"
            "Up to 50 details may be billed on one electronic professional claim.\n"
            "Claim numbers begin with the year and the day of the year.\n"
            "Adjusted claims will have an A1 suffix.")
    chunk = Chunk(chunk_id="c1", doc_id="doc", doc_title="Manual", text=text, embed_text=text, source_path="m.pdf",
                  url=None, section="3.2 Electronic Claims", heading_path=("Electronic Claims",), sections=("3.2",),
                  page=1, page_end=1, printed_page="1", region=None, edition=None, status="current", doc_hash="h",
                  chunk_hash="h1", n=0, token_count=80)
    idf = {"electronic": 2.0, "professional": 2.0, "claim": 0.5, "detail": 2.0, "line": 1.5, "split": 3.0, "a1": 4.0,
           "end": 1.0}

    def first(question: str) -> str:
        return pick_sentences([Hit(chunk, 1.0, 0.5, 1.0)], question, question, idf)[0].sentence.text

    assert first("max detail lines on an electronic professional claim before i have to split it").startswith(
        "Up to 50 details")
    # "A1" is two characters: a word that short counts only written as a code
    assert first("whats the A1 at the end of a claim number") == "Adjusted claims will have an A1 suffix."


def test_a_table_row_about_something_else_gives_way_to_the_row_asked_for():
    from assistant.answer import OFF_TOPIC_ROW, Sentence, score_sentence
    from assistant.schema import Chunk

    chunk = Chunk(chunk_id="c1", doc_id="portal", doc_title="Medi-Cal portal", text="", embed_text="",
                  source_path="p.html", url=None, section="Contacts", heading_path=("Contacts",), sections=(),
                  page=None, page_end=None, printed_page=None, region="California", edition=None, status="current",
                  doc_hash="h", chunk_hash="h1", n=0, token_count=40)
    words = {"medi": 1.0, "cal": 1.0, "jail": 3.0, "release": 3.0}
    distinctive = frozenset({"jail", "release"})  # the question's words without place names
    other_row = Sentence("Medi-Cal State Programs | programs@example.org | General Medi-Cal questions", chunk, 0, 0)
    asked_row = Sentence("Justice Involved Liaison | jil@example.org | Members leaving jail on release", chunk, 0, 1)
    question = "who helps a medi-cal member after jail release?"
    plain = score_sentence(other_row, words, question, urgent=False)
    penalised = score_sentence(other_row, words, question, urgent=False, distinctive=distinctive)
    assert penalised == plain - OFF_TOPIC_ROW
    assert score_sentence(asked_row, words, question, urgent=False, distinctive=distinctive) == \
        score_sentence(asked_row, words, question, urgent=False)  # a row sharing a distinctive word keeps its score
    prose = Sentence("General Medi-Cal questions go to the State Programs team.", chunk, 0, 2)
    assert score_sentence(prose, words, question, urgent=False, distinctive=distinctive) == \
        score_sentence(prose, words, question, urgent=False)  # only table rows are judged this way


def test_a_faq_row_asking_the_providers_own_question_is_preferred():
    from assistant.answer import FAQ_BONUS, Sentence, faq_match, score_sentence
    from assistant.schema import Chunk

    chunk = Chunk(chunk_id="c1", doc_id="training", doc_title="EPSDT training", text="", embed_text="",
                  source_path="t.html", url=None, section="Frequently asked questions",
                  heading_path=("Frequently asked questions",), sections=(), page=None, page_end=None,
                  printed_page=None, region="California", edition=None, status="current", doc_hash="h",
                  chunk_hash="h1", n=0, token_count=40)
    own = frozenset({"send", "completion", "certificat"})  # "certificates", as the FAQ cell's "certificate" folds
    row = Sentence("Do I send my certificate to KP? | Not routinely.", chunk, 0, 0)
    assert faq_match(row.text, own)
    assert not faq_match("Can I send the form by fax? | Yes.", own)  # one word of three
    assert not faq_match("Send the certificate to KP | Training desk", own)  # a row, but not a question
    assert not faq_match("Do I send my certificate to KP? Not routinely.", own)  # prose, not a table row
    words = {"epsdt": 3.0, "training": 1.0, "send": 1.0}
    question = "do we send the completion certificates to kp?"
    assert score_sentence(row, words, question, urgent=False, own=own) == \
        score_sentence(row, words, question, urgent=False) + FAQ_BONUS


def test_a_hit_brings_the_rest_of_its_section_with_each_sentence_cited_to_its_own_chunk():
    """A section's lead-in ("requests go to the desk below") is found; what to include is in its first
    subsection, the next chunk; a long section's second chunk continues it. Neither a sibling section nor a
    subsection of another section comes along."""
    from types import SimpleNamespace

    from assistant.answer import candidate_sentences
    from assistant.index import IndexSnapshot
    from assistant.retrieval import Hit
    from assistant.schema import Chunk

    def chunk(n: int, section: str, text: str) -> Chunk:
        return Chunk(chunk_id=f"c{n}", doc_id="doc", doc_title="Manual", text=text, embed_text=text,
                     source_path="m.pdf", url=None, section=section, heading_path=(section,),
                     sections=(section.split()[0],), page=n, page_end=n, printed_page=str(n), region=None,
                     edition=None, status="current", doc_hash="h", chunk_hash=f"h{n}", n=n, token_count=40)

    chunks = [chunk(0, "4.5 Referrals", "Referrals are written by the primary care physician."),
              chunk(1, "4.6 How to Request", "Send every authorization request to the desk named below."),
              chunk(2, "4.6.1 What to Include", "Include the diagnosis code and the clinical notes."),
              chunk(3, "4.7 Decisions", "Standard requests are decided within 14 calendar days."),
              chunk(4, "4.7 Decisions", "Expedited requests are decided within 72 hours.")]
    snapshot = IndexSnapshot("col", None, {c.chunk_id: c for c in chunks},  # type: ignore[arg-type]
                             {"doc": SimpleNamespace(chunk_ids=[c.chunk_id for c in chunks])}, [])  # type: ignore[dict-item]
    assert [c.chunk_id for c in snapshot.section_context(chunks[1])] == ["c2"]  # its subsection, not 4.5
    assert [c.chunk_id for c in snapshot.section_context(chunks[2])] == []  # 4.6.1 does not bring 4.7
    assert [c.chunk_id for c in snapshot.section_context(chunks[4])] == ["c3"]  # the same section, cut in two
    found = candidate_sentences([Hit(chunks[1], 1.0, 0.5, 1.0)], context=snapshot.section_context)
    assert [(s.text, s.chunk.chunk_id, s.rank) for s in found] == [
        ("Send every authorization request to the desk named below.", "c1", 0),
        ("Include the diagnosis code and the clinical notes.", "c2", 1)]
    assert [s.chunk.chunk_id for s in candidate_sentences([Hit(chunks[1], 1.0, 0.5, 1.0)])] == ["c1"]


def test_a_mailing_lead_in_is_quoted_with_the_address_after_it():
    """Regression (real handbook): "Mail the Claim Review Request Form and attachments to:" was quoted without
    the post-office box printed on the next line, and "P.O." ended a sentence."""
    text = ("All requests must be mailed. Mail the Claim Review Request Form and attachments to:\n"
            "Gainwell Technologies Provider Correspondence P. O. Box 70082 Boise, ID 83707\nCall with questions.")
    assert quotable_sentences(text) == [
        "All requests must be mailed.",
        "Mail the Claim Review Request Form and attachments to: Gainwell Technologies Provider Correspondence "
        "P. O. Box 70082 Boise, ID 83707",
        "Call with questions."]
    assert quotable_sentences("Write to HMS at P.O. Box 2001 Boise. Then call.") == [
        "Write to HMS at P.O. Box 2001 Boise.", "Then call."]
    # a lead-in to a list is not an address: its items stay sentences of their own
    assert quotable_sentences("Send these items:\nThe signed form.\nThe denial letter.") == [
        "Send these items:", "The signed form.", "The denial letter."]


def test_a_reference_list_entry_gives_way_to_the_sentence_that_states_the_rule():
    """Regression (real handbook): "how do we bill for a sign language interpreter" was answered with the titles
    of the publications listed under "9.11.4 References: Interpretive Services", not the billing codes."""
    from assistant.answer import Sentence, score_sentence
    from assistant.schema import Chunk

    def chunk(section: str) -> Chunk:
        return Chunk(chunk_id=section, doc_id="doc", doc_title="Handbook", text="", embed_text="",
                     source_path="h.pdf", url=None, section=section, heading_path=(section,), sections=(),
                     page=1, page_end=1, printed_page="1", region=None, edition=None, status="current",
                     doc_hash="h", chunk_hash="h1", n=0, token_count=40)

    words = {"sign": 1.0, "languag": 1.0, "interpret": 1.0, "bill": 1.0}
    rule = Sentence("Interpretive services are billed under T1013 per 15 minutes, sign language with a modifier.",
                    chunk("9.11.3 Interpretive Services – Reimbursement"), 0, 0)
    listed = Sentence("“Reimbursement for Interpretation, Translation, and Sign Language Services.",
                      chunk("9.11.4 References: Interpretive Services"), 0, 0)
    lettered = Sentence("a) Idaho Medicaid Publications “New Code for Billing Sign Language Services.",
                        chunk("9.11.3 Interpretive Services – Reimbursement"), 0, 0)
    question = "how do we bill for a sign language interpreter"
    rule_score = score_sentence(rule, words, question, urgent=False, meaning=1.0)
    assert all(rule_score > score_sentence(s, words, question, urgent=False, meaning=1.2) for s in (listed, lettered))


def test_a_short_passage_holding_the_best_sentence_is_quoted_whole():
    """Regression (conv-13): "how do we get paid by direct deposit" quoted the EFT sentence of 5.4.3 but not the
    two after it (whom to ask, how long enrolment takes), which share no word with the question, and filled the
    answer from 5.5 Paper Claims, printed in the same chunk after its heading. The run between headings is the
    passage; a longer one still gives only the sentences close to the best."""
    from assistant.answer import SHORT_PASSAGE, pick_sentences
    from assistant.retrieval import Hit
    from assistant.schema import Chunk

    def chunk(n: int, text: str) -> Chunk:
        return Chunk(chunk_id=f"c{n}", doc_id="doc", doc_title="Manual", text=text, embed_text=text,
                     source_path="m.pdf", url=None, section="5.4.3 Electronic Payment",
                     heading_path=("5.4.3 Electronic Payment",), sections=("5.4.3", "5.5"), page=n, page_end=n,
                     printed_page=str(n), region=None, edition=None, status="current", doc_hash="h",
                     chunk_hash=f"h{n}", n=n, token_count=40)

    eft = ("KP can pay by electronic funds transfer (EFT) instead of paper checks. To enroll, contact EDI Support. "
           "Enrollment changes take about 30 days.")
    paper = ("5.5 Paper Claims\nMail paper claims to the claims office and allow extra time for paper mail. "
             "Do not send paper claims by fax and never send paper copies of electronic claims.")
    question = "how do we get paid by electronic funds transfer instead of paper checks"
    idf = {t: 1.0 for t in ("electron", "fund", "transfer", "paper", "check", "paid")}
    picked = [p.sentence.text for p in pick_sentences([Hit(chunk(0, f"{eft}\n{paper}"), 1.0, 0.5, 1.0)], question,
                                                      question, idf)]
    assert picked[:3] == ["KP can pay by electronic funds transfer (EFT) instead of paper checks.",
                          "To enroll, contact EDI Support.", "Enrollment changes take about 30 days."]
    assert SHORT_PASSAGE == 3
    # four sentences in the run: only those close to the best are quoted
    longer = chunk(1, f"{eft} Remittance advice comes as an 835 file.\n{paper}")
    assert "To enroll, contact EDI Support." not in [p.sentence.text for p in pick_sentences(
        [Hit(longer, 1.0, 0.5, 1.0)], question, question, idf)]


def test_a_texts_vector_does_not_depend_on_the_texts_embedded_with_it(real_embedder):
    """An index updated document by document embeds its sentences and chunks in other company than one built in
    one pass; encoded in a batch, a vector's last float bits move with the batch (padding, the batch's shape),
    and the query adapter fitted on them moved a question across the top 5. Each text is encoded alone."""
    texts = ["Claims must be received within 365 days of the date of service.",
             "Call Member Services.", "Send the signed attestation to the Medi-Cal provider team by e-mail "
             "within 30 days of the training, and keep a copy in the practitioner's file for audits."]
    together = np.asarray(real_embedder.embed_documents(texts), dtype=np.float32)
    apart = np.asarray([real_embedder.embed_documents([t])[0] for t in texts], dtype=np.float32)
    assert np.array_equal(together, apart)
    assert np.array_equal(together[1], np.asarray(real_embedder.embed_documents(texts[1:2] + texts[:1])[0],
                                                  dtype=np.float32))
