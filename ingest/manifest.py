"""Reading a corpus manifest and finding the documents under a path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.schema import DocumentInfo

MANIFEST_NAME = "manifest.yaml"
PROFILE_FILE = "profile.yaml"  # the plan profile (assistant/profile.py) beside the documents
SUPPORTED = {".pdf", ".html", ".htm", ".md", ".markdown", ".txt"}


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and what is declared about it."""

    path: Path
    info: DocumentInfo


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"


def read_manifest(path: Path) -> dict[Path, DocumentInfo]:
    """Documents a manifest declares, keyed by their resolved file path."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[Path, DocumentInfo] = {}
    for entry in data.get("documents", []):
        file = (path.parent / entry["file"]).resolve()
        out[file] = DocumentInfo(
            doc_id=str(entry["id"]),
            title=str(entry.get("title") or file.stem),
            source_path=str(file),
            kind=str(entry.get("kind", "document")),
            url=entry.get("url"),
            region=entry.get("region"),
            edition=str(entry["edition"]) if entry.get("edition") is not None else None,
            effective_date=str(entry["effective_date"]) if entry.get("effective_date") else None,
            status=str(entry.get("status", "current")),
            supersedes=entry.get("supersedes"),
            superseded_by=entry.get("superseded_by"),
        )
    return out


def is_readme(path: Path) -> bool:
    return path.stem.upper() == "README"


def default_info(path: Path, root: Path) -> DocumentInfo:
    """What we can say about a file no manifest describes."""
    relative = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    return DocumentInfo(doc_id=slugify(str(relative.with_suffix(""))), title=path.stem.replace("-", " ").strip(),
                        source_path=str(path))


def _manifest_for(path: Path) -> dict[Path, DocumentInfo]:
    for folder in [path.parent, *path.parents][:4]:
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            return read_manifest(candidate)
    return {}


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[Path]]:
    """The files to ingest under ``paths`` and the directories scanned.

    A directory holding a manifest ingests exactly the files its manifest lists; without one, every
    file below it (hidden ones excepted) is a candidate, and unsupported types are reported later."""
    files: dict[Path, SourceFile] = {}
    scanned: list[Path] = []
    for given in paths:
        root = given.resolve()
        if root.is_dir():
            scanned.append(root)
            manifest = root / MANIFEST_NAME
            if manifest.is_file():
                for file, info in read_manifest(manifest).items():
                    files[file] = SourceFile(file, info)
                continue
            for file in sorted(root.rglob("*")):
                parts = file.relative_to(root).parts
                # README files describe a folder and a plan profile describes the plan; neither is a document of it.
                if file.is_file() and not any(p.startswith(".") for p in parts) and not is_readme(file) \
                        and parts != (PROFILE_FILE,):
                    files[file] = SourceFile(file, default_info(file, root))
        else:
            declared = _manifest_for(root).get(root)
            files[root] = SourceFile(root, declared or default_info(root, root.parent))
    return sorted(files.values(), key=lambda s: str(s.path)), scanned
