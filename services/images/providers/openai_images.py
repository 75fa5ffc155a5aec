"""Images on any OpenAI-compatible upstream (`services/kit/upstream.py`): a generation's JSON
body goes upstream as sent, only `model` swapped; an edit's or variation's form is sent again,
every field as the client sent it (only `model` the upstream's) with its images. The answer, and
a stream's partial images, come back as the upstream's bytes."""

from collections.abc import AsyncIterator

import aiohttp

from services.images.providers.base import Call
from services.kit.upstream import Upstream


class OpenAIImages(Upstream):
    async def create(self, call: Call) -> bytes:
        return await self.post(call.endpoint, self._body(call), request_id=call.request_id)

    def stream(self, call: Call) -> AsyncIterator[bytes]:
        return self.post_stream(call.endpoint, self._body(call), request_id=call.request_id)

    def _body(self, call: Call) -> bytes | aiohttp.FormData:
        if call.images is None:
            return self.json_body(bytes(call.request.body))
        form = aiohttp.FormData()
        form.add_field("model", self.model)
        for name, value in call.request.fields:
            if name != "model":
                form.add_field(name, value)
        for image, data in call.images:
            form.add_field(image.field, data, filename=image.filename, content_type=image.content_type)
        return form
