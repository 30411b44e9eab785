"""PDF loading. The only module that imports pypdf."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from assistant.errors import DocumentError

_MIN_TEXT_CHARS_PER_PAGE = 20


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
        pages = [page.extract_text() or "" for page in reader.pages]
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


def useful_title(title: str) -> str | None:
    """A PDF metadata title worth showing; authoring tools often leave "untitled" or a file name."""
    clean = " ".join(title.split())
    junk = re.match(r"(?i)^(untitled|microsoft word\b|document\d*$|.*\.(docx?|pdf)$)", clean)
    return None if not clean or junk else clean
