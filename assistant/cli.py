"""`provider-assistant ask`: answer one question, or a JSONL batch with the model loaded once."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "answer a provider's question from the indexed manual, with citations and contacts"
DESCRIPTION = """\
Answer a question from the index built by 'provider-assistant ingest'.

  provider-assistant ask "how long do I have to file a claim?"
  provider-assistant ask "what's their phone number?" --conversation-id c-...
  provider-assistant ask --batch questions.jsonl --json

A batch file has one JSON object per line with "question" and optionally "conversation_id" and
"region"; one answer per line comes back, in order, with the model loaded once. Conversations
persist in the data dir, so --conversation-id works across invocations.

exit status: 0 answered, 1 a question failed (named in the output), 2 usage error"""


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("ask", parents=[parent], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--batch", type=Path, metavar="FILE", help="JSONL file of questions")
    p.add_argument("--conversation-id", help="continue this conversation (follow-ups resolve against it)")
    p.add_argument("--region", help="one of the regions the plan profile names (default: from the question or "
                   "conversation)")
    p.add_argument("--json", action="store_true", help="print the answer JSON (one line per answer)")
    p.set_defaults(handler=run)


def render_text(answer: dict[str, Any]) -> str:
    lines = []
    if answer.get("urgent"):
        lines.append("URGENT")
    lines.append(answer["answer"])
    for c in answer.get("citations", []):
        page = f", PDF page {c['page']} (printed {c['printed_page']})" if c.get("page") else ""
        lines.append(f"  [{c['n']}] {c['doc_title']} - {c['section']}{page}  {c['url']}")
    for c in answer.get("contacts", []):
        values = ", ".join(v for v in (c.get("phone"), c.get("email"), c.get("fax")) if v)
        lines.append(f"  Contact: {c['department']}: {values}")
    lines.append(f"  conversation {answer['conversation_id']} · category {answer['category']} · "
                 f"confidence {answer['confidence']:.2f}")
    return "\n".join(lines)


def _batch_items(path: Path) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not str(item.get("question", "")).strip():
            raise ValueError(f"{path}:{n}: needs a non-empty \"question\"")
        items.append(item)
    return items


def run(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError
    from assistant.service import Assistant
    from assistant.settings import get_settings

    if bool(args.question) == bool(args.batch):
        print("provider-assistant ask: give a QUESTION or --batch FILE (not both)", file=sys.stderr)
        return 2
    try:
        items = _batch_items(args.batch) if args.batch else [
            {"question": args.question, "conversation_id": args.conversation_id, "region": args.region}]
    except (OSError, ValueError) as exc:
        print(f"provider-assistant ask: {exc}", file=sys.stderr)
        return 2
    settings = get_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    try:
        assistant = Assistant.from_settings(settings)
    except AssistantError as exc:
        print(f"provider-assistant ask: {exc.message}", file=sys.stderr)
        return 1
    failed = 0
    for n, item in enumerate(items, start=1):
        try:
            answer = assistant.ask(str(item["question"]), item.get("conversation_id") or args.conversation_id,
                                   item.get("region") or args.region)
        except Exception as exc:  # one bad question must not lose the rest of a batch
            failed += 1
            print(json.dumps({"line": n, "error": f"{type(exc).__name__}: {exc}"}) if args.json
                  else f"question {n} failed: {exc}", file=sys.stdout if args.json else sys.stderr)
            continue
        print(json.dumps(answer, ensure_ascii=False) if args.json else render_text(answer), flush=True)
    return 1 if failed else 0
