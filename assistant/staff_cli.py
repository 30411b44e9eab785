"""`provider-assistant staff`: staff tokens and exporting corrected mistakes as evaluation questions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "provider-relations staff: add tokens, export resolved inquiries as evaluation questions"


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("staff", parents=[parent], help=HELP, description=HELP)
    sub = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    token = sub.add_parser("add-token", parents=[parent], help="create a bearer token (printed once, stored hashed)")
    token.add_argument("name", help="who the token is for")
    token.add_argument("--admin", action="store_true", help="may manage other tokens")
    token.set_defaults(handler=add_token)
    export = sub.add_parser("export-evals", parents=[parent],
                            help="write resolved inquiries and thumbs-down answers as eval questions (JSONL)")
    export.add_argument("file", type=Path)
    export.set_defaults(handler=export_evals)


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from assistant.settings import get_settings
    from assistant.triage import TriageStore

    return TriageStore.from_settings(get_settings(**({"data_dir": args.data_dir} if args.data_dir else {})))


def add_token(args: argparse.Namespace) -> int:
    token = _store(args).add_token(args.name, args.admin)
    print(token)
    print(f"token for {args.name}{' (admin)' if args.admin else ''}: shown once, stored hashed", file=sys.stderr)
    return 0


def export_evals(args: argparse.Namespace) -> int:
    rows = _store(args).export_eval_questions()
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} question(s) written to {args.file}; run: provider-assistant eval {args.file}")
    return 0
