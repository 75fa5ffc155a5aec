"""The vocabulary size of a GGUF model, read from its header: the length of its
`tokenizer.ggml.tokens` array. llama.cpp's Python binding does not expose `n_vocab`, and the `gguf`
package's reader builds every token string (seconds for a 49k vocabulary); this reads a few
kilobytes of metadata and skips the strings."""

import struct
from typing import BinaryIO

TOKENS_KEY = b"tokenizer.ggml.tokens"
# Fixed sizes of GGUF's scalar value types, by type code (8 is a string, 9 an array).
_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def vocab_size(path: str) -> int:
    with open(path, "rb") as f:
        magic, _version, _tensors, entries = struct.unpack("<4sIQQ", f.read(24))
        if magic != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        for _ in range(entries):
            key = f.read(_u64(f))
            kind = _u32(f)
            if key == TOKENS_KEY and kind == _ARRAY:
                _u32(f)  # the element type: strings
                return _u64(f)
            _skip(f, kind)
    raise ValueError(f"{path} has no {TOKENS_KEY.decode()} array")


def _skip(f: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        f.seek(_u64(f), 1)
    elif kind == _ARRAY:
        item, count = _u32(f), _u64(f)
        if item in _SIZES:
            f.seek(_SIZES[item] * count, 1)
        else:
            for _ in range(count):
                _skip(f, item)
    else:
        f.seek(_SIZES[kind], 1)


def _u32(f: BinaryIO) -> int:
    return struct.unpack("<I", f.read(4))[0]


def _u64(f: BinaryIO) -> int:
    return struct.unpack("<Q", f.read(8))[0]
