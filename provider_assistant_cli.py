"""The `provider-assistant` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import server
from assistant import cli as ask_cli
from assistant import staff_cli
from evals import cli as eval_cli
from ingest import cli as ingest_cli

DESCRIPTION = """\
Provider Assistant answers contracted providers' questions from the provider manual and program
pages, with citations and the right contact.

Start with 'provider-assistant ingest corpus' to build the index, then ask questions.
Settings come from PA_* environment variables (e.g. PA_DATA_DIR, PA_EMBEDDING_MODEL)."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None,
                        help="where the index and its state live (default: $PA_DATA_DIR, else ./data)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress and details to stderr")
    parser = argparse.ArgumentParser(prog="provider-assistant", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    ingest_cli.add_parser(sub, common)
    ask_cli.add_parser(sub, common)
    eval_cli.add_parser(sub, common)
    server.add_parser(sub, common)
    staff_cli.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("sentence_transformers", "transformers", "chromadb", "httpx", "pypdf"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
