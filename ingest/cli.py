"""`provider-assistant ingest`: build or update the index from manuals and pages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "build or update the searchable index from PDFs, HTML, Markdown and text files"
DESCRIPTION = """\
Build or update the index the assistant answers from.

Each PATH is a file or a directory (searched recursively). A directory with a manifest.yaml
ingests exactly the documents the manifest lists, with their titles, regions and editions.
Unchanged documents are skipped, changed ones are replaced whole, and documents that vanished
from an ingested directory are removed. A file that cannot be read is reported with the reason
and the others are still ingested.

exit status: 0 everything ingested, 1 some file failed (listed), 2 usage error"""


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("ingest", parents=[parent], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", default=[Path("corpus")],
                   help="files or directories to ingest (default: corpus/)")
    p.add_argument("--rebuild", action="store_true",
                   help="start from an empty index (the old one keeps serving until the new one is complete)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from assistant.settings import get_settings
    from ingest.pipeline import Ingestor

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"provider-assistant ingest: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = get_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    summary = Ingestor(settings).run(list(args.paths), rebuild=args.rebuild)
    print(json.dumps(summary.to_dict()) if args.json else summary.to_text())
    return 0 if summary.ok else 1
