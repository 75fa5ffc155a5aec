"""Hybrid retrieval: keyword scores (Okapi BM25, as sparse vectors the index scores) beside the dense
ones, and reciprocal rank fusion of the ranked lists (each chunk scores the sum of 1 / (K + rank) over the
lists, K = 60 as in Cormack et al.), scaled so a chunk first in every list scores 1."""

import re
import zlib
from collections import Counter
from collections.abc import Hashable, Sequence

K = 60
K1, B = 1.2, 0.75  # BM25's term-frequency saturation and length normalisation
AVERAGE_WORDS = 256.0  # words in an average chunk (800 tokens less the stop words), for the length normalisation
_WORD = re.compile(r"\w+", re.UNICODE)
# English function words: they match nearly every chunk, so they would only add noise to the ranking.
STOPWORDS = frozenset("""a about an and are as at be been but by can could did do does for from had has have how i
if in into is it its me my no not of on or our so than that the their them then there these they this to
was we were what when where which who why will with would you your""".split())


def words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def _term(word: str) -> int:
    return zlib.crc32(word.encode())


def keyword_vector(text: str) -> tuple[list[int], list[float]]:
    """A chunk's sparse keyword vector: each word's BM25 term-frequency weight (saturating with
    `K1`, normalised by length against `AVERAGE_WORDS`), keyed by a hash of the word. The index
    multiplies by each word's inverse document frequency (Qdrant's IDF modifier), which makes the
    dot product with `query_vector` the chunk's BM25 score."""
    counts = Counter(_term(word) for word in words(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_WORDS)
    indices = sorted(counts)
    return indices, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """A query's sparse keyword vector: weight 1 for each of its words."""
    indices = sorted({_term(word) for word in words(text)})
    return indices, [1.0] * len(indices)


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
