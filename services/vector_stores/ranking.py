"""Hybrid retrieval: keyword scores (Okapi BM25 over the chunks searched) beside the dense ones, and
reciprocal rank fusion of the ranked lists (each chunk scores the sum of 1 / (K + rank) over the
lists, K = 60 as in Cormack et al.), scaled so a chunk first in every list scores 1."""

import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence

K = 60
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25(query: str, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """Each document's BM25 score for `query` (0 when it shares no word with it)."""
    terms = set(words(query))
    if not terms or not documents:
        return [0.0] * len(documents)
    bags = [Counter(words(document)) for document in documents]
    lengths = [sum(bag.values()) for bag in bags]
    average = sum(lengths) / len(lengths) or 1.0
    frequency = {term: sum(1 for bag in bags if term in bag) for term in terms}
    n = len(documents)
    idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
    scores = []
    for bag, length in zip(bags, lengths):
        score = 0.0
        for term in terms:
            tf = bag.get(term, 0)
            if tf:
                score += idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores


def fuse(rankings: Sequence[Sequence[Hashable]]) -> list[tuple[Hashable, float]]:
    """Reciprocal rank fusion: every key of `rankings` (each best first), with its fused score in
    (0, 1], best first."""
    if not rankings:
        return []
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (K + rank)
    top = len(rankings) / (K + 1)
    return sorted(((key, score / top) for key, score in fused.items()), key=lambda item: -item[1])
