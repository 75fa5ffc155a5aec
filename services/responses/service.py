"""The responses service on the bus: one micro-service endpoint per call, one task per request."""

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.kit.service import BusService, Endpoint
from services.responses import conversations
from services.responses.context import Context
from services.responses.responses import Responses
from shared import subjects

# name, subject, the API path it serves (the metrics' `route`), handler: the calls that answer one struct.
ROUTES = (
    ("conversations_create", subjects.CONVERSATIONS_CREATE, "/v1/conversations", conversations.create),
    ("conversations_retrieve", subjects.CONVERSATIONS_RETRIEVE, "/v1/conversations/{conversation_id}",
     conversations.retrieve),
    ("conversations_update", subjects.CONVERSATIONS_UPDATE, "/v1/conversations/{conversation_id}",
     conversations.update),
    ("conversations_delete", subjects.CONVERSATIONS_DELETE, "/v1/conversations/{conversation_id}",
     conversations.delete),
    ("conversations_items_list", subjects.CONVERSATIONS_ITEMS_LIST, "/v1/conversations/{conversation_id}/items",
     conversations.list_items),
    ("conversations_items_create", subjects.CONVERSATIONS_ITEMS_CREATE,
     "/v1/conversations/{conversation_id}/items", conversations.create_items),
    ("conversations_items_retrieve", subjects.CONVERSATIONS_ITEMS_RETRIEVE,
     "/v1/conversations/{conversation_id}/items/{item_id}", conversations.retrieve_item),
    ("conversations_items_delete", subjects.CONVERSATIONS_ITEMS_DELETE,
     "/v1/conversations/{conversation_id}/items/{item_id}", conversations.delete_item),
)


class ResponsesService(BusService):
    def __init__(self, nc: Client, ctx: Context, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["responses"], description="responses and conversations",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._ctx = ctx
        self.responses = Responses(ctx)

    def cancel(self, request_id: str) -> None:
        """`vivian.cancel` names a request whose client went away (the kit stops it: the endpoints
        below are cancellable) or a background response cancelled through the API (its turn stops)."""
        self.responses.cancel(request_id)
        super().cancel(request_id)

    def endpoints(self) -> list[Endpoint]:
        responses = self.responses
        return [
            Endpoint("responses_create", subjects.RESPONSES, "/v1/responses", responses.create, cancellable=True),
            Endpoint("responses_retrieve", subjects.RESPONSES_RETRIEVE, "/v1/responses/{response_id}",
                     responses.retrieve, cancellable=True),
            Endpoint("responses_input_tokens", subjects.RESPONSES_INPUT_TOKENS, "/v1/responses/input_tokens",
                     self.answering(Responses.input_tokens, responses)),
            Endpoint("responses_compact", subjects.RESPONSES_COMPACT, "/v1/responses/compact",
                     self.answering(Responses.compact, responses)),
            Endpoint("responses_cancel", subjects.RESPONSES_CANCEL, "/v1/responses/{response_id}/cancel",
                     self.answering(Responses.cancel_response, responses)),
            Endpoint("responses_delete", subjects.RESPONSES_DELETE, "/v1/responses/{response_id}",
                     self.answering(Responses.delete, responses)),
            Endpoint("responses_input_items", subjects.RESPONSES_INPUT_ITEMS,
                     "/v1/responses/{response_id}/input_items",
                     self.answering(Responses.input_items, responses)),
            *(Endpoint(name, subject, route, self.answering(handler, self._ctx))
              for name, subject, route, handler in ROUTES),
        ]
