"""Lexical (BM25) ranking. The only module that imports bm25s."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")
_STOPWORD_TEXT = """
a an and are as at be been but by can could do does did for from had has have how i if in into is
it its me my no not of on or our so such than that the their them then there these they this to was
we were what when where which who whom why will with would you your yours us am any all also just
about should shall may
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def plain_tokens(text: str) -> list[str]:
    """Lower-case words without stopwords; a hyphenated code (21-002, CMS-1500) is kept whole and in parts."""
    out: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        parts = re.split(r"[-/.]", word)
        if len(parts) > 1:
            out.append(word)
        out.extend(p for p in parts if p and p not in STOPWORDS)
    return out


class LexicalIndex:
    """BM25 over a fixed list of texts; scores for every text, so callers can filter and fuse."""

    def __init__(self, texts: Sequence[str], tokenize: Callable[[str], list[str]] = plain_tokens) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self._tokenize = tokenize
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        if texts:
            self._bm25.index([tokenize(t) or ["_"] for t in texts], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query (zeros for no overlap)."""
        tokens = self._tokenize(query)
        if not tokens or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The top ``k`` (position, score) pairs with a positive score."""
        scores = self.scores(query)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
