"""The images service on the bus: `/v1/images/generations`, `/edits` and `/variations`, relayed to
the model's OpenAI-compatible upstream; plus the edge's calls for an edit's input images (stage,
give up) and for the bytes behind a link to a stored image."""

import asyncio
import datetime
import logging
import secrets

import aiohttp
import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.images import results
from services.images.links import Links
from services.images.providers.base import Call, ImagesProvider
from services.images.settings import ImagesSettings
from services.kit import service as bus_service
from services.kit import upstream
from services.kit.objects import ObjectStore
from services.kit.outcome import Outcome
from services.kit.service import BusService, Endpoint
from shared import errors, subjects
from shared.bus import Replier
from shared.protocol.bus import Envelope
from shared.protocol.files import Download, StageAbort, StageTarget
from shared.protocol.images import ImageCall, ImageContentRequest, ImageGenerationRequest, ImageInput
from shared.registry import Registry

log = logging.getLogger("images")
_encode = msgspec.json.Encoder().encode
_decode_call = msgspec.json.Decoder(ImageCall)
_decode_generation = msgspec.json.Decoder(ImageGenerationRequest)
_decode_abort = msgspec.json.Decoder(StageAbort)
_decode_content = msgspec.json.Decoder(ImageContentRequest)

GENERATED, INPUTS = "images/generated/", "images/inputs/"
INPUT_LIFETIME = 3600.0  # an edit's inputs are removed by the end of its request; the sweep gets the rest


class ImagesService(BusService):
    def __init__(self, nc: Client, registry: Registry[ImagesProvider], store: ObjectStore,
                 settings: ImagesSettings, *, tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["images"], description="images",
                         heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracer_provider)
        self._registry, self._store, self._settings = registry, store, settings
        self._links = Links.from_settings(settings.image_signing_key, settings.s3_secret_key,
                                          ttl=settings.image_url_ttl)
        self._http: aiohttp.ClientSession | None = None

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("images_generations", subjects.IMAGES_GENERATIONS, "/v1/images/generations", self._generations),
            Endpoint("images_edits", subjects.IMAGES_EDITS, "/v1/images/edits", self._edits),
            Endpoint("images_variations", subjects.IMAGES_VARIATIONS, "/v1/images/variations", self._variations),
            Endpoint("images_stage", subjects.IMAGES_STAGE, "/v1/images/edits", self._stage),
            Endpoint("images_stage_abort", subjects.IMAGES_STAGE_ABORT, "/v1/images/edits", self._abort),
            Endpoint("images_content", subjects.IMAGES_CONTENT, "/v1/images/content/{image_id}", self._content),
        ]

    async def start(self) -> None:
        # Upstreams' own links to their images: fetched once, right after they made them.
        self._http = upstream.session(timeout=aiohttp.ClientTimeout(total=300, sock_connect=10))
        await super().start()

    async def stop(self, *, drain_timeout: float = 20.0) -> None:
        await super().stop(drain_timeout=drain_timeout)
        if self._http is not None:
            await self._http.close()

    # ------------------------------------------------------------------ the three paths

    async def _generations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        call = bus_service.decode(_decode_call, envelope.body)
        request = bus_service.decode(_decode_generation, call.body)
        await self._draw("images/generations", envelope, replier, outcome, call, model=request.model,
                         wanted=request.response_format, stream=bool(request.stream))

    async def _edits(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._draw_form("images/edits", envelope, replier, outcome)

    async def _variations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._draw_form("images/variations", envelope, replier, outcome)

    async def _draw_form(self, endpoint: str, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        call = bus_service.decode(_decode_call, envelope.body)
        try:
            if any(not f.key.startswith(INPUTS) for f in call.files):
                raise errors.invalid_request("Unknown input image.", param="image")
            form = call.form  # typed by the edge
            await self._draw(endpoint, envelope, replier, outcome, call, model=form.model,
                             wanted=form.response_format, stream=bool(form.stream),
                             images=[(f, await self._input(f)) for f in call.files])
        finally:
            await asyncio.gather(*(self._store.remove(f.key) for f in call.files), return_exceptions=True)

    async def _draw(self, endpoint: str, envelope: Envelope, replier: Replier, outcome: Outcome, call: ImageCall,
                    *, model: str | None, wanted: str | None, stream: bool,
                    images: list[tuple[ImageInput, bytes]] | None = None) -> None:
        name = model or self._default_model()
        outcome.model, outcome.stream = name, stream
        provider = self._provider(name, f"/v1/{endpoint}")
        request = Call(endpoint=endpoint, request=call, images=images, model=name, request_id=envelope.request_id)
        if stream:  # partial images as the upstream sends them (the GPT image models)
            async for chunk in provider.stream(request):
                await replier.data(chunk)
                outcome.chunks += 1
            await replier.done()
            return
        answer = await provider.create(request)
        answer = await results.settle(answer, wanted=wanted, store=self._keep, fetch=self._fetch,
                                      link=lambda image_id: self._links.make(call.origin, image_id))
        await replier.data(answer)

    def _default_model(self) -> str:
        drawing = self._registry.serving()
        if not drawing:
            raise _no_model(None, drawing)
        return "dall-e-2" if "dall-e-2" in drawing else drawing[0]  # OpenAI's default, when it is here

    def _provider(self, name: str, endpoint: str) -> ImagesProvider:
        drawing = self._registry.serving()
        if name not in drawing:
            raise _no_model(name, drawing)
        return self._registry.provider(name, endpoint)

    # ------------------------------------------------------------------ bytes

    async def _input(self, image: ImageInput) -> bytes:
        data = await self._store.read(image.key)
        if data is None:
            raise errors.invalid_request(f"The image '{image.filename}' was not received whole; please retry.",
                                         param=image.field.removesuffix("[]"))
        return data

    async def _keep(self, image_id: str, data: bytes, content_type: str) -> None:
        await self._store.put(GENERATED + image_id, data, content_type=content_type)

    async def _fetch(self, url: str) -> bytes:
        """An upstream's own link to an image it made."""
        try:
            async with self._http.get(url) as resp:
                if resp.status != 200:
                    raise errors.ApiError(502, f"The upstream image server's link answered {resp.status}.",
                                          type="server_error", code="upstream_bad_image")
                data = await resp.content.read(self._settings.max_image_bytes + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise errors.ApiError(502, f"The upstream image server's link could not be read: {type(err).__name__}.",
                                  type="server_error", code="upstream_unreachable") from None
        if len(data) > self._settings.max_image_bytes:
            raise errors.ApiError(502, "The upstream image server sent an image over the size limit.",
                                  type="server_error", code="upstream_bad_image")
        return data

    # ------------------------------------------------------------------ the edge's calls

    async def _stage(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        key = f"{INPUTS}{secrets.token_hex(16)}"
        limit = self._settings.max_image_bytes
        # One PUT, never a multipart upload: the edge sends a part of up to `part_bytes` in one go.
        target = StageTarget(id=key, put_url=self._store.put_url(key, expires=INPUT_LIFETIME), part_bytes=limit,
                             max_bytes=limit)
        await replier.data(_encode(target))

    async def _abort(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_abort, envelope.body)
        if request.id.startswith(INPUTS):
            await self._store.remove(request.id)
        await replier.data(b"{}")

    async def _content(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_content, envelope.body)
        self._links.check(request)
        size = await self._store.size(GENERATED + request.id) if "/" not in request.id else None
        if size is None:
            raise errors.ApiError(404, "No such image: it was removed after its link expired.", param="id",
                                  code="image_not_found")
        extension = request.id.rsplit(".", 1)[-1]
        await replier.data(_encode(Download(
            url=self._store.get_url(GENERATED + request.id, expires=60), bytes=size, filename=request.id,
            content_type=results.CONTENT_TYPES.get(extension, "application/octet-stream"), inline=True)))

    async def sweep(self) -> None:
        """Remove images whose links have all expired, and inputs a crash left behind."""
        now = datetime.datetime.now(datetime.timezone.utc)
        for prefix, age in ((GENERATED, self._settings.image_url_ttl + 60), (INPUTS, INPUT_LIFETIME)):
            for key in await self._store.older_than(prefix, now - datetime.timedelta(seconds=age)):
                await self._store.remove(key)


def _no_model(name: str | None, drawing: list[str]) -> errors.ApiError:
    if not drawing:
        return errors.ApiError(
            404, "No model here can make images: Vivian ships no local image model (none that runs on a CPU "
            "comes in a package), so add an OpenAI-compatible upstream with `api = \"images\"` to the model "
            "config (see README, \"Images\").", param="model", code="model_not_found")
    return errors.ApiError(404, f"The model `{name}` cannot make images here. Models that can: "
                           f"{', '.join(drawing)}.", param="model", code="model_not_found")
