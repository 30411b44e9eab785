"""PDF loading. The only module that imports pypdf.

    python -m ingest.pdf FILE START END     (prints the text of pages START..END-1 as a JSON list)

pypdf extracts text in Python, one page at a time, about 20 pages a second on a real handbook; a long PDF has its
second half extracted by a child process (the command above) while this process extracts the first, so a
one-document ingest does not wait on one core while the other idles."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.errors import DocumentError

_MIN_TEXT_CHARS_PER_PAGE = 20
# below this many pages a child process costs more (about 0.3 s to start) than it saves
_PARALLEL_MIN_PAGES = 24


def load_pdf_pages(path: Path) -> tuple[list[str], str | None]:
    """The extracted text of each page, and the title from the PDF's metadata if it has one."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported by us, once
    data = path.read_bytes()
    if not data.strip():
        raise DocumentError("file is empty")
    if not data.lstrip().startswith(b"%PDF"):
        raise DocumentError("not a PDF file (no %PDF header)")
    if b"%%EOF" not in data[-2048:]:
        raise DocumentError("PDF is truncated or damaged (no end-of-file marker)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("PDF is encrypted (password-protected); provide an unprotected copy")
        pages = _extract_pages(reader, path)
        title = reader.metadata.get("/Title") if reader.metadata else None
    except (FileNotDecryptedError, DependencyError) as exc:
        raise DocumentError("PDF is encrypted (password-protected); provide an unprotected copy") from exc
    except PdfReadError as exc:
        raise DocumentError(f"PDF is damaged and cannot be read ({exc})") from exc
    if not pages:
        raise DocumentError("PDF has no pages")
    if sum(len(p.strip()) for p in pages) < _MIN_TEXT_CHARS_PER_PAGE * len(pages) / 4:
        raise DocumentError("PDF has no text layer (scanned images?); run OCR on it first")
    return pages, useful_title(str(title)) if title else None


def _extract_pages(reader: Any, path: Path) -> list[str]:
    """The text of every page; of a long PDF's second half in a child process, meanwhile the first half here.
    A child that fails leaves its pages to this process (the same text either way: a page's text depends on
    that page alone)."""
    count = len(reader.pages)
    if count < _PARALLEL_MIN_PAGES or (os.cpu_count() or 1) < 2:
        return [page.extract_text() or "" for page in reader.pages]
    half = count // 2
    try:
        child = subprocess.Popen([sys.executable, "-m", "ingest.pdf", str(path), str(half), str(count)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 cwd=Path(__file__).resolve().parents[1])
    except OSError:
        return [page.extract_text() or "" for page in reader.pages]
    first = [reader.pages[i].extract_text() or "" for i in range(half)]
    out, _ = child.communicate()
    try:
        second = json.loads(out) if child.returncode == 0 else None
    except ValueError:
        second = None
    if not isinstance(second, list) or len(second) != count - half:
        logging.getLogger(__name__).debug("page extraction child failed for %s; extracting here", path)
        second = [reader.pages[i].extract_text() or "" for i in range(half, count)]
    return first + [str(p) for p in second]


def _child(argv: list[str]) -> None:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    path, start, end = Path(argv[0]), int(argv[1]), int(argv[2])
    reader = PdfReader(io.BytesIO(path.read_bytes()), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")
    pages = [reader.pages[i].extract_text() or "" for i in range(start, end)]
    sys.stdout.write(json.dumps(pages))


def useful_title(title: str) -> str | None:
    """A PDF metadata title worth showing; authoring tools often leave "untitled" or a file name."""
    clean = " ".join(title.split())
    junk = re.match(r"(?i)^(untitled|microsoft word\b|document\d*$|.*\.(docx?|pdf)$)", clean)
    return None if not clean or junk else clean


if __name__ == "__main__":
    _child(sys.argv[1:])
