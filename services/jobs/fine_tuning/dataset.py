"""Chat-format fine-tuning files checked the way OpenAI checks them, with line-numbered errors.

Each line is one JSON object `{"messages": [...]}`; roles are system, developer, user, assistant
(tool and function messages are accepted and shown to the model, never trained on); every example
has an assistant message; an assistant message may carry `weight` 0 or 1 (0: not trained on);
a file has at least `MIN_EXAMPLES` examples.
"""

from collections.abc import Iterable

import msgspec

MIN_EXAMPLES = 10
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}


class InvalidFile(Exception):
    """The file cannot be trained on; the message says where (line and message numbers)."""


Message = dict  # {"role", "content", "weight"}: the checked, normalised message


def _text(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise InvalidFile(f"{where}: only text content parts are supported.")
            parts.append(part["text"])
        return "".join(parts)
    raise InvalidFile(f"{where}: `content` must be a string or a list of text parts.")


def _message(raw, where: str) -> Message:
    if not isinstance(raw, dict):
        raise InvalidFile(f"{where} is not a JSON object.")
    unknown = set(raw) - _MESSAGE_KEYS
    if unknown:
        raise InvalidFile(f"{where} has unrecognised key(s): {', '.join(sorted(unknown))}.")
    role = raw.get("role")
    if role not in ROLES:
        raise InvalidFile(f"{where} has an unrecognised role {role!r}; use one of system, developer, user, "
                          "assistant, tool.")
    weight = raw.get("weight", 1)
    if "weight" in raw and (role != "assistant" or weight not in (0, 1) or isinstance(weight, bool)):
        raise InvalidFile(f"{where}: `weight` is allowed only on assistant messages and must be 0 or 1.")
    content = raw.get("content")
    if content is None and not (role == "assistant" and (raw.get("tool_calls") or raw.get("function_call"))):
        raise InvalidFile(f"{where} has no `content`.")
    text = "" if content is None else _text(content, where)
    if role != "assistant" and not text.strip() and role != "tool":
        raise InvalidFile(f"{where} has empty content.")
    return {"role": "system" if role == "developer" else role, "content": text, "weight": weight}


def example(line: bytes, number: int) -> list[Message]:
    """One line of the file as its checked messages; `number` counts lines from 1."""
    try:
        raw = msgspec.json.decode(line)
    except msgspec.DecodeError:
        raise InvalidFile(f"Line {number} is not valid JSON.") from None
    if not isinstance(raw, dict) or "messages" not in raw:
        raise InvalidFile(f"Line {number}: each line must be a JSON object with a `messages` list "
                          "(the chat format).")
    messages = raw["messages"]
    if not isinstance(messages, list) or not messages:
        raise InvalidFile(f"Line {number}: `messages` must be a non-empty list.")
    checked = [_message(m, f"Line {number}, message {i + 1}") for i, m in enumerate(messages)]
    if not any(m["role"] == "assistant" for m in checked):
        raise InvalidFile(f"Line {number} has no assistant message to train on.")
    if not any(m["role"] == "assistant" and m["weight"] and m["content"] for m in checked):
        raise InvalidFile(f"Line {number}: every assistant message has weight 0 or no content.")
    return checked


def examples(lines: Iterable[bytes], *, minimum: int = MIN_EXAMPLES) -> list[list[Message]]:
    """Every example of a file given as lines (blank lines are skipped)."""
    out = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            out.append(example(line, number))
    if len(out) < minimum:
        raise InvalidFile(f"The file has {len(out)} example(s); a fine-tuning file needs at least {minimum}.")
    return out
