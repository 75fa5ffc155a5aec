"""Parsing and chunking of a vector store's files (no stack needed)."""

import pytest

from services.vector_stores import chunking, parsing
from tests import vector_files
from tests.stack import TOKENIZER


@pytest.mark.parametrize("name, data, expected", [
    ("notes.txt", b"plain words here", "plain words here"),
    ("main.py", b"def answer():\n    return 42\n", "def answer():\n    return 42"),
    ("doc.md", b"# Title\n\nSome *emphasis* and `code`.\n\n- item one\n", "Title\nSome emphasis and code.\nitem one"),
    ("data.json", b'{"a": [1, 2], "b": "x"}', '{\n "a": [\n  1,\n  2\n ],\n "b": "x"\n}'),
    ("page.html", b"<html><head><style>p{}</style><script>x()</script></head><body><h1>Hi</h1><p>there</p></body></html>",
     "Hi\nthere"),
])
def test_text_kinds(name, data, expected):
    assert parsing.parse(data, name) == expected


def test_pdf_docx_pptx():
    assert "the quick brown fox" in parsing.parse(vector_files.pdf("the quick brown fox"), "a.pdf")
    assert parsing.parse(vector_files.docx("first paragraph", "second one"), "a.docx") == "first paragraph\nsecond one"
    assert parsing.parse(vector_files.pptx("slide one", "slide two"), "deck.pptx") == "slide one\n\nslide two"


def test_unsupported_and_invalid():
    with pytest.raises(parsing.UnsupportedFile):
        parsing.parse(b"\x00\x01", "image.png")
    with pytest.raises(parsing.InvalidFile):
        parsing.parse(b"not a pdf", "broken.pdf")
    with pytest.raises(parsing.InvalidFile):
        parsing.parse(b"bad \xc3\x28", "x.txt")


@pytest.fixture(scope="module")
def chunker():
    return chunking.Chunker(TOKENIZER)


def test_static_chunks_overlap_and_cover(chunker):
    text = " ".join(f"word{i}" for i in range(600))
    chunks = chunker.chunks(text, chunking.Static(max_chunk_size_tokens=100, chunk_overlap_tokens=50))
    assert all(chunker.count(chunk) <= 100 for chunk in chunks)
    assert chunks[0].startswith("word0") and chunks[-1].endswith("word599")
    # chunks may cut a word at a token boundary, but the overlap holds every word whole somewhere
    assert all(any(word in chunk.split() for chunk in chunks) for word in text.split())
    assert chunks[1].split()[1] in chunks[0].split()


def test_auto_is_800_400(chunker):
    text = " ".join(f"w{i}" for i in range(3000))
    chunks = chunker.chunks(text, chunking.Static())
    assert max(chunker.count(c) for c in chunks) == 800


def test_long_chunk_becomes_several_windows(chunker):
    chunk = " ".join(f"token{i}" for i in range(400))
    windows = chunker.windows(chunk, 240)
    assert len(windows) > 1 and all(chunker.count(w) <= 240 for w in windows)
    assert windows[0].startswith("token0") and windows[-1].endswith("token399")


@pytest.mark.parametrize("size, overlap, ok", [(100, 50, True), (99, 0, False), (4097, 0, False), (800, 401, False),
                                               (4096, 2048, True)])
def test_static_rules(size, overlap, ok):
    assert (chunking.check(size, overlap) is None) == ok
