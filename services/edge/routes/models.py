"""GET /v1/models, GET /v1/models/{model} (the chat service) and DELETE /v1/models/{model} (a
fine-tuned model: the jobs service)"""

import msgspec
from aiohttp import web

from services.edge.relay import forward
from shared import subjects

routes = web.RouteTableDef()


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.MODELS_LIST, b"null")


@routes.get("/v1/models/{model:.+}")
async def retrieve(request: web.Request) -> web.StreamResponse:
    # `{model:.+}`: fine-tuned ids contain colons and may contain slashes.
    model = request.match_info["model"]
    return await forward(request, subjects.MODELS_RETRIEVE, msgspec.json.encode(model), model=model)


@routes.delete("/v1/models/{model:.+}")
async def delete(request: web.Request) -> web.StreamResponse:
    model = request.match_info["model"]
    return await forward(request, subjects.MODELS_DELETE, msgspec.json.encode(model), model=model)
