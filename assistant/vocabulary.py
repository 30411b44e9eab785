"""The domain's vocabulary, learned from the corpus: abbreviations with their expansions, and the
words the documents use (to correct misspellings in questions)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from assistant.components import ALL_ON, Components
from assistant.lexical import STOPWORDS
from assistant.lexicon import LAY_TERMS, lay_expansion

_GLOSSARY_ENTRY = re.compile(r"(?:^|\n|\. )([A-Z][A-Za-z0-9/&]{1,9})\s+(?:--|–|—)\s+([A-Z][^.\n]{3,80})\.")
_PAREN_ABBR = re.compile(r"\(([A-Z][A-Za-z0-9/&]{1,9})\)")
_SMALL = {"of", "and", "the", "for", "to", "a", "an", "in", "on", "&"}
_WORD = re.compile(r"[a-z][a-z0-9']+")
# An abbreviation that is also an everyday word ("WHO", "YES", "CAP" in a Medicaid handbook) is that word when
# a question writes it in lower case: "who do I tell" is not about the World Health Organization.
_EVERYDAY = 4.4  # Zipf frequency in English: "who" 6.3, "yes" 5.5, "cap" 4.5; "tin" 4.0, "cob" 3.0, "snf" 2.4


def english_zipf(word: str) -> float:
    """How common a word is in general English (0 for unknown), from the wordfreq package's word lists."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def english_word(token: str) -> bool:
    """Whether a lower-case token is an everyday English word: a stopword ("it", "us", "who"), or three letters
    or more and common in English."""
    return token in STOPWORDS or (len(token) >= 3 and english_zipf(token) >= _EVERYDAY)


def initials_match(words: list[str], abbr: str) -> bool:
    letters = "".join(w[0] for w in words if w.lower() not in _SMALL and w[0].isalpha()).lower()
    target = re.sub(r"[^a-z]", "", abbr.lower())
    return bool(target) and (letters == target or (len(target) >= 3 and letters.startswith(target[:-1])
                                                   and len(letters) == len(target)))


def parenthetical_expansion(before: str, abbr: str) -> str | None:
    """"Enhanced Care Management (ECM)" -> "Enhanced Care Management": the words whose initials spell it."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", before)[-(len(abbr) + 4):]
    for start in range(len(words) - 1, -1, -1):
        if initials_match(words[start:], abbr):
            return " ".join(words[start:])
    return None


def find_abbreviations(texts: Iterable[str]) -> dict[str, set[str]]:
    """Abbreviation -> expansions, from glossary entries ("APL -- All Plan Letter.") and from
    definitions in running text ("Coordination of Benefits (COB)")."""
    found: dict[str, set[str]] = {}
    for text in texts:
        for m in _GLOSSARY_ENTRY.finditer(text):
            found.setdefault(m.group(1).lower(), set()).add(m.group(2).strip().lower())
        for m in _PAREN_ABBR.finditer(text):
            expansion = parenthetical_expansion(text[max(0, m.start() - 120):m.start()], m.group(1))
            if expansion:
                found.setdefault(m.group(1).lower(), set()).add(expansion.lower())
    return found


@dataclass
class Vocabulary:
    """Abbreviations both ways and the corpus's words, for expanding and correcting queries."""

    abbreviations: dict[str, set[str]]
    words: set[str] = field(default_factory=set)
    _corrections: dict[str, str | None] = field(default_factory=dict)
    # names of one thing (the plan profile's names of the plan: "Acme Health", "AH", "Acme"): a question using
    # one is searched with the others too
    aliases: tuple[str, ...] = ()

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Vocabulary:
        texts = list(texts)
        words = {w for t in texts for w in _WORD.findall(t.lower())}
        return cls(find_abbreviations(texts), words)

    def correct(self, word: str) -> str:
        """The corpus word a misspelled query word most likely meant (the word itself if known or unsure)."""
        if len(word) < 5 or word in self.words or word in LAY_TERMS or not word.isalpha():
            return word  # office shorthand has its own meaning ("admits" is not a misspelled "audits")
        if word not in self._corrections:
            close = difflib.get_close_matches(word, self.words, n=1, cutoff=0.82)
            self._corrections[word] = close[0] if close else None
        return self._corrections[word] or word

    def expand(self, query: str, *, phrases: bool = True, components: Components = ALL_ON) -> str:
        """The query with misspellings corrected, abbreviations spelled out and expansions abbreviated
        (``phrases``: with the words of lay phrases such as "how long", see ``lay_expansion``); ``components``
        says which of the three (spelling, abbreviations, lexicon) are on."""
        lowered = query.lower()
        tokens = _WORD.findall(lowered) + re.findall(r"\b[a-z]{2,3}\b", lowered)
        extra: list[str] = []
        if components.on("spelling"):
            corrected = [self.correct(t) for t in _WORD.findall(lowered)]
            extra += [c for t, c in zip(_WORD.findall(lowered), corrected, strict=True) if c != t]
        plan = {a.lower() for a in self.aliases}
        for token in dict.fromkeys(tokens):  # in question order: the expanded text must not vary by run
            # the plan's own names are expanded to its other names below, not to what else the documents
            # abbreviate the same way
            if token not in self.abbreviations or not components.on("abbreviations") or token in plan:
                continue
            expansions = sorted(self.abbreviations[token])
            written_upper = bool(re.search(rf"\b{re.escape(token.upper())}\b", query))
            if token in LAY_TERMS and not written_upper:
                # office shorthand in lower case ("pt", "pa") means what the office means (patient, prior
                # authorization), not what a handbook abbreviates that way (physical therapy, physician assistant)
                office = set(LAY_TERMS[token].lower().split())
                expansions = [e for e in expansions if office & set(e.split())]
            if not english_word(token) or written_upper:
                extra.extend(expansions)
        for abbr, spelled in self.abbreviations.items() if components.on("abbreviations") else ():
            if any(e in lowered for e in spelled) and abbr not in tokens:
                extra.append(abbr)
        if self.aliases and any(re.search(rf"\b{re.escape(a)}\b", query, re.IGNORECASE) for a in self.aliases):
            for a in self.aliases:  # the longest name first: "Acme" is part of "Acme Health", added already
                if not re.search(rf"\b{re.escape(a)}\b", f"{query} {' '.join(extra)}", re.IGNORECASE):
                    extra.append(a)
        lay = lay_expansion(query, phrases=phrases) if components.on("lexicon") else ""
        if lay:
            extra.append(lay)
        return query if not extra else f"{query} ({' '.join(extra)})"
