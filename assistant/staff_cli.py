"""`provider-assistant staff`: staff tokens, approved answers and exporting corrected mistakes as evaluation
questions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.triage import TriageStore

HELP = "provider-relations staff: manage tokens, withdraw approved answers, export resolved inquiries as evals"
ACTOR = "cli"  # who the audit log names for what this command does


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("staff", parents=[parent], help=HELP, description=HELP)
    sub = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    token = sub.add_parser("add-token", parents=[parent], help="create a bearer token (printed once, stored hashed)")
    token.add_argument("name", help="who the token is for")
    token.add_argument("--admin", action="store_true", help="may manage other tokens")
    token.set_defaults(handler=add_token)
    listing = sub.add_parser("list-tokens", parents=[parent], help="list staff tokens, revoked ones with their time")
    listing.add_argument("--json", action="store_true", help="one JSON object per token")
    listing.set_defaults(handler=list_tokens)
    revoke = sub.add_parser("revoke-token", parents=[parent], help="revoke a token (its sign-ins fail from now on)")
    revoke.add_argument("token_id", metavar="ID", type=int, help="the token's id (see list-tokens)")
    revoke.set_defaults(handler=revoke_token)
    withdraw = sub.add_parser("withdraw-answer", parents=[parent],
                              help="stop the assistant serving an inquiry's approved answer")
    withdraw.add_argument("inquiry", metavar="INQUIRY", help="the inquiry's id or reference (PR-000123)")
    withdraw.set_defaults(handler=withdraw_answer)
    export = sub.add_parser("export-evals", parents=[parent],
                            help="write resolved inquiries and thumbs-down answers as eval questions (JSONL)")
    export.add_argument("file", type=Path)
    export.set_defaults(handler=export_evals)


def _store(args: argparse.Namespace) -> TriageStore:
    from assistant.settings import get_settings
    from assistant.triage import TriageStore

    return TriageStore.from_settings(get_settings(**({"data_dir": args.data_dir} if args.data_dir else {})))


def add_token(args: argparse.Namespace) -> int:
    token = _store(args).add_token(args.name, args.admin, actor=ACTOR)
    print(token)
    print(f"token for {args.name}{' (admin)' if args.admin else ''}: shown once, stored hashed", file=sys.stderr)
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    rows = _store(args).list_tokens()
    if args.json:
        print("".join(json.dumps(r) + "\n" for r in rows), end="")
        return 0
    for r in rows:
        state = f"revoked {r['revoked_at'] or ''}".rstrip() if r["revoked"] else "active"
        print(f"{r['id']:>4}  {r['name']:<24} {'admin' if r['admin'] else 'staff':<5}  created {r['created']}  {state}")
    if not rows:
        print("no tokens; create one with: provider-assistant staff add-token NAME", file=sys.stderr)
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    from assistant.errors import NotFound

    try:
        token = _store(args).revoke_token(args.token_id, actor=ACTOR)
    except NotFound as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"token {token['id']} ({token['name']}) revoked {token['revoked_at']}")
    return 0


def withdraw_answer(args: argparse.Namespace) -> int:
    from assistant.errors import NotFound

    store = _store(args)
    try:
        inquiry_id = store.inquiry_id(args.inquiry)
        withdrawn = store.withdraw_approved(inquiry_id, actor=ACTOR)
    except NotFound as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    reference = store.get(inquiry_id)["reference"]
    if withdrawn:
        print(f"{reference}: {withdrawn} approved answer(s) withdrawn; the assistant no longer serves them")
    else:
        print(f"{reference}: no approved answer was being served")
    return 0


def export_evals(args: argparse.Namespace) -> int:
    rows = _store(args).export_eval_questions()
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} question(s) written to {args.file}; run: provider-assistant eval {args.file}")
    return 0
