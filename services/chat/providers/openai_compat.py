"""Chat on any OpenAI-compatible upstream (`services/kit/upstream.py`).

The client's body goes upstream as sent, every field included, with only `model` swapped for the
upstream's id. Answers and stream chunks come back as the upstream's bytes; upstream errors keep
the upstream's status and error object.
"""

from collections.abc import AsyncIterator

from services.chat.providers.base import Call
from services.kit.upstream import Upstream


class OpenAICompat(Upstream):
    async def create(self, call: Call) -> bytes:
        return await self.post(call.endpoint, self.json_body(call.raw), request_id=call.request_id)

    def stream(self, call: Call) -> AsyncIterator[bytes]:
        return self.post_stream(call.endpoint, self.json_body(call.raw), request_id=call.request_id)
