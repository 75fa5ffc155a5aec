"""A response passed through to an upstream that has the Responses API (`responses_api = true` in
the model config): the chat service relays the request to the upstream (`vivian.chat.responses`),
and Vivian keeps the state, as for any model.

- `request`: the client's body, every field as sent, but the whole context (what
  `previous_response_id` or `conversation` stand for, expanded, then the new input) as its
  `input`, `store: false` (the upstream keeps nothing) and always streamed.
- `Turn`: the upstream's events, each relayed as it comes (any event type, a hosted tool's too),
  with Vivian's response (id, model, state fields) in place of the upstream's and Vivian's own
  `sequence_number`s, and the Response they end with, which Vivian stores. It is driven by
  `turns.run` like the translation's `Turn`, whose failure events it shares.
"""

from typing import Any

import msgspec

from services.responses import chat_translation
from shared import errors
from shared.protocol.chat import Usage
from shared.protocol.responses import Item, Response, ResponseError, StreamEvent

_decode = msgspec.json.Decoder(dict).decode
_encode = msgspec.json.Encoder().encode
_TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


def request(raw: bytes, context: list[Item]) -> bytes:
    """The Responses request the upstream runs, for the client's `raw` body and its `context`."""
    body = _decode(raw)
    for name in ("previous_response_id", "conversation", "background"):
        body.pop(name, None)
    body |= {"input": msgspec.to_builtins(context), "store": False, "stream": True}
    return _encode(body)


class Turn(chat_translation.Turn):
    """One turn on an upstream's Responses API. Its terminal event is held back by `data` and
    sent by `finish`, once the response is stored."""

    def __init__(self, response: Response) -> None:
        super().__init__(response)
        self._last: list[StreamEvent] | None = None

    def start(self) -> list[StreamEvent]:
        return []  # the upstream sends `response.created` and `response.in_progress`

    def data(self, body: bytes) -> list[StreamEvent]:
        event = _decode(body)
        if isinstance(event.get("response"), dict):
            event["response"] |= self._ours()
        if event.get("type") in _TERMINAL:
            self._last = self._end(event)
            return []
        return [self._relayed(event)]

    def _ours(self) -> dict[str, Any]:
        """What Vivian's response says in place of the upstream's."""
        mine = self.response
        return {"id": mine.id, "model": mine.model, "store": mine.store, "background": mine.background,
                "previous_response_id": mine.previous_response_id,
                "conversation": msgspec.to_builtins(mine.conversation)}

    def _relayed(self, event: dict[str, Any]) -> dict[str, Any]:
        event["sequence_number"] = self._seq
        self._seq += 1
        return event

    def _end(self, event: dict[str, Any]) -> list[StreamEvent]:
        """The response the terminal `event` ends with; the terminal event to send."""
        if event["type"] == "error":
            error = ResponseError(code=event.get("code") or "server_error", message=event.get("message") or "")
            self.response = msgspec.structs.replace(self.response, status="failed", error=error)
            return [self._relayed(event)]
        try:
            self.response = msgspec.convert(event["response"], Response)
        except msgspec.ValidationError as err:  # an output item Vivian does not model (a hosted tool's call…)
            return self.fail(errors.ApiError(502, f"The upstream's response cannot be kept by Vivian: {err}",
                                             type="server_error"))
        if (usage := self.response.usage) is not msgspec.UNSET:
            self.usage = Usage(prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens,
                               total_tokens=usage.total_tokens)
        return [self._relayed(event)]

    def finish(self) -> list[StreamEvent]:
        if self._last is None:
            return self.fail(errors.ApiError(502, "The upstream ended the response without its last event.",
                                             type="server_error"))
        return self._last
