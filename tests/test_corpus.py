"""The bundled corpus: manifest consistency, rendered PDFs, seed facts and seed-text overlap."""
from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"

SAMPLE_LINE = ("Sample edition for demonstration: written for the Provider Assistant project; "
               "not an official Kaiser Permanente document.")
HEADER_LEFT = {"manual_section": "Kaiser Permanente Northwest Provider Manual",
               "policy": "Kaiser Permanente Northwest"}
PHONE = re.compile(r"(?<![\d-])\d{3}-\d{3}-\d{4}(?![\d-])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SUBSECTION_HEADING = re.compile(r"^\d+\.\d+(\.\d+)*\s+[A-Z]", re.MULTILINE)
FOOTER = re.compile(r"(?P<edition>\d{4}) edition -- sample for demonstration\s*\n\s*"
                    r"(?P<label>Page \S+(?: of \d+)?|[ivxlc]+)\s*$")
TOC_LINE = re.compile(r"^(?P<heading>\d+(?:\.\d+)*\.?\s+\S.*?)\s+(?:\.\s*){3,}(?P<label>\S+)$",
                      re.MULTILINE)
SHINGLE = 12


# ------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------

def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_build", CORPUS / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_build"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return _load_build()


def _manifest() -> list[dict[str, Any]]:
    return list(yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))["documents"])


MANIFEST = _manifest()
RENDERED = [d for d in MANIFEST if d.get("source")]


@pytest.fixture(scope="module")
def pdf_pages() -> dict[str, list[str]]:
    """Text of every page of every rendered PDF that exists, by doc id (extracted once)."""
    pages = {}
    for doc in RENDERED:
        path = CORPUS / doc["file"]
        if path.is_file():
            pages[doc["id"]] = [page.extract_text() or "" for page in PdfReader(path).pages]
    return pages


class _TextOf(HTMLParser):
    """Visible text of an HTML page (script and style skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _TextOf()
    parser.feed(markup)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def html_texts() -> dict[str, str]:
    return {p.name: html_text(p.read_text(encoding="utf-8"))
            for p in sorted((CORPUS / "pages").glob("*.html"))}


@pytest.fixture(scope="module")
def corpus_text(pdf_pages: dict[str, list[str]], html_texts: dict[str, str]) -> str:
    """All text the assistant ingests: PDF text plus the pages' visible text."""
    return "\n".join(["\n".join(p) for p in pdf_pages.values()] + list(html_texts.values()))


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    if not SEEDS.is_dir() or not list(SEEDS.glob("*.txt")):
        pytest.skip(f"seed pages not found at {SEEDS}")
    return {p.name: p.read_text(encoding="utf-8", errors="ignore") for p in sorted(SEEDS.glob("*.txt"))}


def normalized(text: str) -> str:
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("\u2019", "'"))


def shingles(ws: list[str], n: int = SHINGLE) -> set[tuple[str, ...]]:
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def _pages_of(pdf_pages: dict[str, list[str]], doc: dict[str, Any]) -> list[str]:
    if doc["id"] not in pdf_pages:
        pytest.fail(f"{doc['id']}: {doc['file']} is missing (run corpus/build.py)")
    return pdf_pages[doc["id"]]


def _ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in docs]


# ------------------------------------------------------------------------------------------
# manifest and folders
# ------------------------------------------------------------------------------------------

def test_manifest_ids_are_unique() -> None:
    ids = _ids(MANIFEST)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("doc", MANIFEST, ids=_ids(MANIFEST))
def test_manifest_entry_file_exists(doc: dict[str, Any]) -> None:
    assert (CORPUS / doc["file"]).is_file(), f"{doc['id']}: {doc['file']} missing"
    if doc.get("source"):
        assert (CORPUS / doc["source"]).is_file(), f"{doc['id']}: {doc['source']} missing"


def test_every_corpus_file_has_a_manifest_entry() -> None:
    listed = {d["file"] for d in MANIFEST} | {d["source"] for d in MANIFEST if d.get("source")}
    present = [p.relative_to(CORPUS).as_posix() for pattern in
               ("manual/*.pdf", "pages/*.html", "src/manual/*.md") for p in CORPUS.glob(pattern)]
    assert sorted(set(present) - listed) == []


def test_supersession_refers_to_existing_documents() -> None:
    by_id = {d["id"]: d for d in MANIFEST}
    for doc in MANIFEST:
        old, new = doc.get("supersedes"), doc.get("superseded_by")
        if old:
            assert old in by_id, f"{doc['id']}: supersedes unknown id {old}"
            assert by_id[old].get("superseded_by") == doc["id"], f"{old} should name {doc['id']}"
        if new:
            assert new in by_id, f"{doc['id']}: superseded_by unknown id {new}"
            assert doc["status"] == "superseded", f"{doc['id']} is replaced but not 'superseded'"
        if doc["status"] == "superseded":
            assert new, f"{doc['id']} is superseded but names no replacement"


def test_folders_hold_the_expected_number_of_documents() -> None:
    assert len(list((CORPUS / "manual").glob("*.pdf"))) >= 17
    assert len(list((CORPUS / "pages").glob("*.html"))) >= 6


# ------------------------------------------------------------------------------------------
# rendered PDFs
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_pages_have_text_header_and_footer(doc: dict[str, Any],
                                               pdf_pages: dict[str, list[str]]) -> None:
    pages = _pages_of(pdf_pages, doc)
    assert len(pages) >= 3, f"{doc['id']}: only {len(pages)} pages"
    for number, text in enumerate(pages, start=1):
        where = f"{doc['id']} PDF page {number}"
        assert text.strip(), f"{where}: no extractable text"
        first_lines = text.strip().splitlines()[:2]
        assert first_lines[0].strip() == HEADER_LEFT[doc["kind"]], f"{where}: header {first_lines}"
        assert normalized(doc["title"]) in normalized(" ".join(first_lines)), f"{where}: title"
        footer = FOOTER.search(text)
        assert footer, f"{where}: no footer with a page label at the end: {text[-120:]!r}"
        assert footer["edition"] == str(doc["edition"]), where


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_page_labels_follow_the_manifest(doc: dict[str, Any],
                                             pdf_pages: dict[str, list[str]]) -> None:
    """Front matter is numbered i, ii, ...; the body restarts at 1 with the manifest template."""
    labels = [FOOTER.search(t)["label"] for t in _pages_of(pdf_pages, doc)]  # type: ignore[index]
    front = [label for label in labels if re.fullmatch(r"[ivxlc]+", label)]
    assert front and front == ["i", "ii", "iii", "iv", "v"][:len(front)], labels
    body = labels[len(front):]
    section = str(doc.get("section", ""))
    expected = [doc["page_label"].format(section=section, n=n, total=len(body))
                for n in range(1, len(body) + 1)]
    assert body == expected


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_first_page_has_cover_and_contents(doc: dict[str, Any],
                                               pdf_pages: dict[str, list[str]]) -> None:
    first = normalized(_pages_of(pdf_pages, doc)[0])
    assert SAMPLE_LINE in first
    assert "Contents" in first
    assert str(doc["edition"]) in first
    if doc["status"] == "superseded":
        new_title = next(d["title"] for d in MANIFEST if d["id"] == doc["superseded_by"])
        assert f"Superseded: replaced by {normalized(new_title)}" in first


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_has_numbered_subsection_headings(doc: dict[str, Any],
                                              pdf_pages: dict[str, list[str]]) -> None:
    body = "\n".join(_pages_of(pdf_pages, doc)[1:])
    assert len(SUBSECTION_HEADING.findall(body)) >= 2, f"{doc['id']}: no N.N headings found"


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_contents_show_printed_page_labels(doc: dict[str, Any],
                                               pdf_pages: dict[str, list[str]]) -> None:
    """Each contents entry names the printed label of the body page that holds the heading."""
    pages = _pages_of(pdf_pages, doc)
    by_label: dict[str, str] = {}
    front_text = []
    for text in pages:
        label = FOOTER.search(text)["label"]  # type: ignore[index]
        if re.fullmatch(r"[ivxlc]+", label):
            front_text.append(text)
            continue
        short = re.sub(r"^Page\s+", "", label).split(" of ")[0]
        by_label[short] = normalized(text)
    entries = TOC_LINE.findall("\n".join(front_text))
    assert entries, f"{doc['id']}: no contents entries with dot leaders"
    for heading, label in entries:
        assert label in by_label, f"{doc['id']}: contents label {label!r} is not a body page label"
        assert normalized(heading) in by_label[label], \
            f"{doc['id']}: {heading!r} is not on page {label}"


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_metadata_and_outline_match_the_source(doc: dict[str, Any], build: ModuleType) -> None:
    path, source = CORPUS / doc["file"], CORPUS / doc["source"]
    if not path.is_file() or not source.is_file():
        pytest.fail(f"{doc['id']}: PDF or source missing")
    reader = PdfReader(path)
    meta = reader.metadata
    assert meta is not None and meta.title == doc["title"]
    assert meta.author == "Provider Assistant sample corpus"
    assert meta.subject == "source-sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()

    def titles(outline: list[Any]) -> Iterator[str]:
        for item in outline:
            yield from titles(item) if isinstance(item, list) else [item.title]

    headings = [b.text.replace("**", "") for b in build.parse_markdown(source.read_text("utf-8"))
                if isinstance(b, build.HeadingBlock)]
    assert [t for t in titles(reader.outline) if t != "Contents"] == headings


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_pdf_keeps_every_contact_of_its_source(doc: dict[str, Any],
                                               pdf_pages: dict[str, list[str]]) -> None:
    """Phone numbers and e-mail addresses survive rendering unbroken (no wrap inside them)."""
    source = (CORPUS / doc["source"]).read_text(encoding="utf-8")
    text = "\n".join(_pages_of(pdf_pages, doc))
    missing = sorted({c for c in PHONE.findall(source) + EMAIL.findall(source) if c not in text})
    assert missing == []


def test_build_check_reports_pdfs_in_step() -> None:
    result = subprocess.run([sys.executable, str(CORPUS / "build.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------
# build.py units
# ------------------------------------------------------------------------------------------

SAMPLE_MD = """# Section 5: Billing and Payment

## 5.1 Whom to Contact

Call the unit at 503-555-0130
for claim status & remittance (<30 days, >1 claim).

- first **bold** bullet
- second bullet
  wrapped onto two lines

1. step one
2. step two

| need | contact |
| --- | --- |
| Claim status | 503-555-0130 |
| Appeals | nw-claims-appeals@example.org |

> Important: keep the **remittance**.
> Second line.

### 5.1.1 Details

Text.

## 5.2 Claim Forms

Last paragraph.
"""


def test_parse_markdown_reads_the_subset(build: ModuleType) -> None:
    blocks = build.parse_markdown(SAMPLE_MD, "sample.md")
    kinds = [type(b).__name__ for b in blocks]
    assert kinds == ["TitleBlock", "HeadingBlock", "ParagraphBlock", "BulletsBlock", "StepsBlock",
                     "TableBlock", "CalloutBlock", "HeadingBlock", "ParagraphBlock",
                     "HeadingBlock", "ParagraphBlock"]
    title, h51, para, bullets, steps, table, callout, h511 = blocks[:8]
    assert title.text == "Section 5: Billing and Payment"
    assert (h51.level, h51.number, h51.text) == (2, (5, 1), "5.1 Whom to Contact")
    assert (h511.level, h511.number, h511.key) == (3, (5, 1, 1), "sec-5.1.1")
    assert para.text == "Call the unit at 503-555-0130 for claim status & remittance (<30 days, >1 claim)."
    assert bullets.items == ("first **bold** bullet", "second bullet wrapped onto two lines")
    assert (steps.items, steps.start) == (("step one", "step two"), 1)
    assert table.header == ("need", "contact")
    assert table.rows[1] == ("Appeals", "nw-claims-appeals@example.org")
    assert callout.paragraphs == ("Important: keep the **remittance**. Second line.",)
    assert build.inline_markup(para.text).endswith("&amp; remittance (&lt;30 days, &gt;1 claim).")
    assert build.inline_markup(bullets.items[0]) == "first <b>bold</b> bullet"


@pytest.mark.parametrize("text, line, message", [
    ("```\ncode\n```", 5, "fenced code"),
    ("* star bullet", 5, "use '- '"),
    ("See [the manual](https://example.org).", 5, "link syntax"),
    ("| a | b |\n| c | d |", 6, "separator"),
    ("| a | b |\n| --- | --- |\n| only one |", 7, "1 cells"),
    ("- item\n  - nested", 6, "nested lists"),
    ("An *italic* word.", 5, "italic"),
    ("Unclosed **bold.", 5, "unmatched"),
    ("## 5.3 Skipped a number", 5, "does not follow 5.1"),
    ("## Unnumbered heading", 5, "must start with their number"),
    ("##### 5.1.1.1.1 Too deep", 5, "headings are supported"),
    ("# Second title", 5, "only line 1"),
    ("Arrow \u2192 sign", 5, "U+2192"),
])
def test_parse_markdown_rejects_unknown_constructs(build: ModuleType, text: str, line: int,
                                                   message: str) -> None:
    source = "# Title\n\n## 5.1 First\n\n" + text + "\n"
    with pytest.raises(build.MarkdownError) as err:
        build.parse_markdown(source, "corpus/src/manual/bad.md")
    assert f"corpus/src/manual/bad.md:{line}:" in str(err.value)
    assert message in str(err.value)


def test_parse_markdown_requires_a_title(build: ModuleType) -> None:
    with pytest.raises(build.MarkdownError, match=r"x\.md:1: line 1 must be"):
        build.parse_markdown("## 5.1 No title\n", "x.md")


def test_page_label_helpers(build: ModuleType) -> None:
    assert build.body_label("Page {section}-{n}", "5", 3, 9) == "Page 5-3"
    assert build.body_label("Page {n} of {total}", "", 2, 4) == "Page 2 of 4"
    assert build.short_label("Page {section}-{n}", "5", 3) == "5-3"
    assert build.short_label("Page {n} of {total}", "", 2) == "2"
    assert [build.roman(n) for n in (1, 2, 4, 9, 14)] == ["i", "ii", "iv", "ix", "xiv"]


def test_render_is_deterministic_and_records_the_source_hash(build: ModuleType,
                                                             tmp_path: Path) -> None:
    entry = {"id": "t-doc", "title": "Section 5: Billing and Payment", "kind": "manual_section",
             "section": "5", "region": "Northwest", "edition": "2025",
             "effective_date": "2025-01-01", "status": "current",
             "page_label": "Page {section}-{n}"}
    blocks = build.parse_markdown(SAMPLE_MD, "sample.md")
    meta = build.doc_meta(entry, {"t-doc": entry}, SAMPLE_MD)
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    build.render(blocks, meta, first)
    build.render(blocks, meta, second)
    assert first.read_bytes() == second.read_bytes()
    reader = PdfReader(first)
    expected = hashlib.sha256(SAMPLE_MD.encode()).hexdigest()
    assert reader.metadata is not None and reader.metadata.subject == f"source-sha256:{expected}"
    assert reader.page_labels[-2:] == ["i", "5-1"]
    body = reader.pages[-1].extract_text()
    assert "Claim status" in body and "nw-claims-appeals@example.org" in body
    assert body.rstrip().endswith("Page 5-1")


# ------------------------------------------------------------------------------------------
# seed facts and provenance
# ------------------------------------------------------------------------------------------

KEY_FACTS = [
    r"10 percent|10\s?%",
    r"5 percent|(?<!\d)5\s?%",
    r"21-002",
    r"under (age )?21",
    r"every 2 years|every two years|at least every 2",
    r"Claire Horton",
    r"Partially Delegated Subcontractor",
    r"Sentinel Event",
    r"credential",
]


def test_seed_contacts_appear_verbatim(seed_texts: dict[str, str], corpus_text: str) -> None:
    contacts = {c for text in seed_texts.values() for c in PHONE.findall(text) + EMAIL.findall(text)}
    assert contacts, "no contacts found in the seed pages"
    assert sorted(c for c in contacts if c not in corpus_text) == []


@pytest.mark.parametrize("pattern", KEY_FACTS)
def test_key_seed_facts_are_covered(seed_texts: dict[str, str], corpus_text: str,
                                    pattern: str) -> None:
    assert re.search(pattern, corpus_text, re.IGNORECASE), f"no corpus text matches {pattern!r}"


def test_no_seed_sentence_is_pasted(seed_texts: dict[str, str], pdf_pages: dict[str, list[str]],
                                    html_texts: dict[str, str]) -> None:
    seed = set().union(*(shingles(words(t)) for t in seed_texts.values()))
    documents = {f"{doc_id}.pdf": "\n".join(p) for doc_id, p in pdf_pages.items()}
    documents |= {f"pages/{name}": text for name, text in html_texts.items()}
    documents |= {f"src/{p.name}": p.read_text(encoding="utf-8")
                  for p in sorted((CORPUS / "src" / "manual").glob("*.md"))}
    overlaps = {name: " ".join(sorted(found)[0]) for name, text in documents.items()
                if (found := shingles(words(text)) & seed)}
    assert overlaps == {}


def test_corpus_contacts_are_seed_or_fictional(seed_texts: dict[str, str],
                                               corpus_text: str) -> None:
    seed_phones = {p for t in seed_texts.values() for p in PHONE.findall(t)}
    seed_emails = {e.lower() for t in seed_texts.values() for e in EMAIL.findall(t)}
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (CORPUS / "src" / "manual").glob("*.md"))
    text = corpus_text + "\n" + sources
    bad_phones = {p for p in PHONE.findall(text)
                  if p not in seed_phones and not re.fullmatch(r"\d{3}-555-01\d\d", p)}
    bad_emails = {e for e in EMAIL.findall(text) if e.lower() not in seed_emails
                  and not re.search(r"@example\.(org|com)$", e, re.IGNORECASE)}
    assert (sorted(bad_phones), sorted(bad_emails)) == ([], [])


@pytest.mark.parametrize("doc", RENDERED, ids=_ids(RENDERED))
def test_ingestion_finds_every_numbered_heading_of_the_source(doc: dict[str, Any]) -> None:
    """Regression: headings above a lower-case table cell, a part 2 after 1.11 and bare "4. Procedure"
    parts were missed, so questions about them could never be cited to the right section."""
    from ingest.pipeline import load_document
    from ingest.structure import split_sections

    source = (CORPUS / doc["source"]).read_text(encoding="utf-8")
    want = [m.group(1) for m in re.finditer(r"^#{2,4} (\d+(?:\.\d+)*)\.?\s", source, re.MULTILINE)]
    found = [s.number for s in split_sections(load_document(CORPUS / doc["file"]).lines) if s.number]
    assert found == want
