"""The responses service's records in MongoDB (services/kit/tables.py says what of MongoDB is used).

- `responses`: one record per stored response, owned by its project: the Response object, the
  items of its request's input, and `chain`, the ids of the stored responses before it
  (`previous_response_id`, oldest first), so its whole context is one query away.
- `conversations`: a conversation's id, project and metadata.
- `conversation_items`: one record per item of a conversation, in the order they were added (`seq`).
- `response_events`: the stream events of background responses (services/responses/events.py).
"""

import msgspec

from services.kit.tables import Database
from services.responses.events import EventRecord
from shared.protocol.responses import Item, Response


class ResponseRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    response: Response
    input: list[Item]
    chain: list[str] = []
    # A background response's turn, queued: the chat request that runs it, and the conversation
    # its items go to.
    chat_body: str = ""
    conversation_id: str = ""
    # A foreground turn in progress: until when its replica says it runs it (see janitor.py).
    alive_until: float = 0.0


class ConversationRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    created_at: int
    metadata: dict[str, str] = {}


class ConversationItemRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str  # `<conversation id>/<item id>`: an item id is unique within its conversation
    conversation_id: str
    project: str
    seq: str
    item: Item


class Tables:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._database = Database(url, timeout=timeout)
        self.responses = self._database.table("responses", ResponseRecord)
        self.conversations = self._database.table("conversations", ConversationRecord)
        self.items = self._database.table("conversation_items", ConversationItemRecord)
        self.events = self._database.table("response_events", EventRecord)

    async def ensure_indexes(self) -> None:
        # Index names are left to the server (nx-27017 does not keep custom ones).
        await self.items.collection.create_index([("conversation_id", 1), ("seq", 1)])
        await self.events.collection.create_index([("response_id", 1), ("seq", 1)])
        # What the sweep looks for (services/responses/janitor.py).
        await self.responses.collection.create_index([("response.status", 1), ("alive_until", 1)])
        await self.responses.collection.create_index([("response.created_at", 1)])

    async def close(self) -> None:
        await self._database.close()
