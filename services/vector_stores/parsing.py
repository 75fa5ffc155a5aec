"""A file's text, for chunking: each kind of file through a library made for it. The kind comes from
the file name's extension, as OpenAI decides it (its list of file_search types, less the old `.doc`).

- text and code: the bytes as UTF-8 (a BOM is honoured; UTF-16 with its BOM too);
- Markdown: markdown-it-py's tokens, markup dropped (headings, lists and code kept as lines);
- JSON: parsed with the standard library's `json` and written out indented, one value a line;
- HTML: BeautifulSoup's text (scripts and styles dropped), on the standard library's parser;
- PDF: pypdf's text, page by page; DOCX: python-docx's paragraphs and tables; PPTX: python-pptx's
  text frames and tables, slide by slide.

A file of another kind is `UnsupportedFile` (OpenAI's `unsupported_file`); one that its parser cannot
read is `InvalidFile` (`invalid_file`).
"""

import io
import json
import os

TEXT = {".txt", ".text", ".log", ".csv", ".tex", ".rst"}
CODE = {".c", ".cc", ".cpp", ".h", ".hpp", ".cs", ".css", ".go", ".java", ".js", ".mjs", ".ts", ".tsx", ".jsx",
        ".php", ".py", ".rb", ".sh", ".rs", ".kt", ".swift", ".scala", ".sql", ".yaml", ".yml", ".toml", ".xml"}
MARKDOWN = {".md", ".markdown"}


class UnsupportedFile(Exception):
    code = "unsupported_file"


class InvalidFile(Exception):
    code = "invalid_file"


def parse(data: bytes, filename: str) -> str:
    extension = os.path.splitext(filename.lower())[1]
    reader = _READERS.get(extension) or (_text if extension in TEXT | CODE else None)
    if reader is None:
        raise UnsupportedFile(f"Files with extension [{extension or 'none'}] are not supported for file search.")
    try:
        return reader(data).strip()
    except (UnsupportedFile, InvalidFile):
        raise
    except Exception as err:  # each library raises its own kinds for a damaged file
        raise InvalidFile(f"The file could not be parsed as {extension[1:].upper()}: {type(err).__name__}.") from None


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidFile("The file is not valid UTF-8 text.") from None


def _markdown(data: bytes) -> str:
    from markdown_it import MarkdownIt

    lines = []
    for token in MarkdownIt("commonmark").enable("table").parse(_text(data)):
        if token.type == "inline":
            lines.append("".join(child.content for child in token.children or () if child.type in
                                 ("text", "code_inline", "softbreak", "html_inline")) or token.content)
        elif token.type in ("fence", "code_block"):
            lines.append(token.content.rstrip("\n"))
    return "\n".join(lines)


def _json(data: bytes) -> str:
    return json.dumps(json.loads(_text(data)), indent=1, ensure_ascii=False)


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return "\n".join(line.strip() for line in soup.get_text("\n").splitlines() if line.strip())


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(parts)


def _pptx(data: bytes) -> str:
    from pptx import Presentation

    slides = []
    for slide in Presentation(io.BytesIO(data)).slides:
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                parts += [" | ".join(cell.text for cell in row.cells) for row in shape.table.rows]
        slides.append("\n".join(parts))
    return "\n\n".join(slides)


_READERS = {**dict.fromkeys(MARKDOWN, _markdown), ".json": _json, ".html": _html, ".htm": _html, ".pdf": _pdf,
            ".docx": _docx, ".pptx": _pptx}
