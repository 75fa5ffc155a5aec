"""Chunks of a file's text, counted in the embedding model's tokens (all-MiniLM-L6-v2's WordPiece
tokenizer, kept in this repository; any `tokenizer.json` can be configured).

- `static`: windows of `max_chunk_size_tokens` (100–4096) that overlap by `chunk_overlap_tokens`
  (at most half of the size), OpenAI's rules; `auto` is static 800/400, OpenAI's defaults.
- A chunk is cut at token boundaries and keeps the text between them as it was (spaces, lines).
- `windows`: a chunk longer than the embedding model reads (MiniLM: 256 tokens, [CLS] and [SEP]
  included) is embedded as several overlapping windows, one vector each, so every part of it can
  be found; nothing is cut off silently.
"""

from dataclasses import dataclass

AUTO_SIZE, AUTO_OVERLAP = 800, 400
MIN_SIZE, MAX_SIZE = 100, 4096


@dataclass(frozen=True, slots=True)
class Static:
    max_chunk_size_tokens: int = AUTO_SIZE
    chunk_overlap_tokens: int = AUTO_OVERLAP


def check(size: int, overlap: int) -> str | None:
    """Why a static strategy is refused (OpenAI's rules), or None."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        return f"max_chunk_size_tokens must be between {MIN_SIZE} and {MAX_SIZE}, got {size}."
    if overlap < 0 or overlap > size // 2:
        return f"chunk_overlap_tokens must be non-negative and at most half of max_chunk_size_tokens, got {overlap}."
    return None


class Chunker:
    def __init__(self, tokenizer_path: str) -> None:
        import tokenizers

        self._tokenizer = tokenizers.Tokenizer.from_file(tokenizer_path)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def _spans(self, text: str, size: int, overlap: int) -> list[tuple[int, int]]:
        """Character spans of windows of `size` tokens, each starting `size - overlap` after the last."""
        offsets = [span for span in self._tokenizer.encode(text, add_special_tokens=False).offsets if span[1] > span[0]]
        if not offsets:
            return []
        spans, start, step = [], 0, size - overlap
        while True:
            end = min(start + size, len(offsets))
            spans.append((offsets[start][0], offsets[end - 1][1]))
            if end == len(offsets):
                return spans
            start += step

    def chunks(self, text: str, strategy: Static) -> list[str]:
        return [text[a:b] for a, b in self._spans(text, strategy.max_chunk_size_tokens, strategy.chunk_overlap_tokens)]

    def windows(self, chunk: str, size: int) -> list[str]:
        """`chunk` as pieces of at most `size` tokens for the embedding model (overlapping by a
        quarter, so no sentence is only ever seen cut in two)."""
        return [chunk[a:b] for a, b in self._spans(chunk, size, size // 4)] or [chunk]

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
