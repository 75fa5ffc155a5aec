"""Embeddings and moderations on any OpenAI-compatible upstream (`services/kit/upstream.py`): the
client's body goes upstream as sent, only `model` swapped; the answer comes back as the upstream's
bytes."""

from services.embeddings.providers.base import Call
from services.kit.upstream import Upstream


class OpenAIEmbeddings(Upstream):
    async def create(self, call: Call) -> bytes:
        return await self.post(call.endpoint, self.json_body(call.raw), request_id=call.request_id)
