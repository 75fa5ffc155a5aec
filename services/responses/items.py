"""Items as a request gives them, read into `Item`s, and as they are stored and listed: every item
with an id (`msg_…`, `fc_…`, `fco_…`, `rs_…`) and a status, a message's content as parts."""

from typing import Any

import msgspec

from services.kit import tables
from services.kit.tables import new_id
from shared import errors
from shared.protocol.responses import (
    Compaction,
    FunctionCall,
    FunctionCallOutput,
    InputText,
    Item,
    ItemList,
    ItemReference,
    Message,
    OutputText,
    Reasoning,
)

_PREFIX = {Message: "msg_", FunctionCall: "fc_", FunctionCallOutput: "fco_", Reasoning: "rs_", Compaction: "cmp_"}


def parse(raw: str | list[dict[str, Any]] | None, *, param: str) -> list[Item]:
    """The items of a request's `input` (or a conversation's `items`), each checked; a string is
    one user message. `param` names the field in errors."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [Message(role="user", content=raw)]
    found = []
    for index, fields in enumerate(raw):
        if "type" not in fields and "role" in fields:  # an "easy" message
            fields = {**fields, "type": "message"}
        try:
            found.append(msgspec.convert(fields, Item))
        except msgspec.ValidationError as err:
            problem = errors.from_validation(err)
            where = f"{param}[{index}]"
            full = f"{where}.{problem.param}" if problem.param else where
            message = problem.message.replace(f"'{problem.param}'", f"'{full}'") if problem.param else \
                f"Invalid '{where}': {problem.message}"
            raise errors.invalid_request(message, param=full, code=problem.code) from None
    return found


def stored(item: Item) -> Item:
    """`item` as it is kept and listed: with an id and a status, a message's content as parts."""
    if isinstance(item, ItemReference):
        return item
    changes: dict[str, Any] = {}
    if not item.id:
        changes["id"] = new_id(_PREFIX[type(item)])
    if isinstance(item, (Reasoning, Compaction)):
        return msgspec.structs.replace(item, **changes)
    if item.status is None:
        changes["status"] = "completed"
    if isinstance(item, Message) and isinstance(item.content, str):
        part = OutputText(text=item.content) if item.role == "assistant" else InputText(text=item.content)
        changes["content"] = [part]
    return msgspec.structs.replace(item, **changes)


def resolve(items: list[Item], known: list[Item]) -> list[Item]:
    """`items` with each `item_reference` replaced by the item it names among `known` (the
    context a previous response or a conversation gives)."""
    by_id = {item.id: item for item in known if getattr(item, "id", None)}
    resolved = []
    for index, item in enumerate(items):
        if isinstance(item, ItemReference):
            if item.id not in by_id:
                raise errors.invalid_request(f"Item with id '{item.id}' not found.", param=f"input[{index}].id",
                                             code="invalid_value")
            item = by_id[item.id]
        resolved.append(item)
    return resolved


def page(found: list[Item], query, *, budget: int) -> ItemList:
    """One page of `found` (in the order they were given) as the list API gives it: in `query.order`,
    after (or before) the item `query.after` (`query.before`), at most `query.limit`."""
    ordered = list(reversed(found)) if query.order == "desc" else list(found)
    ids = [item.id for item in ordered]
    for cursor, param in ((query.after, "after"), (getattr(query, "before", None), "before")):
        if cursor is None:
            continue
        if cursor not in ids:
            raise errors.invalid_request(f"No item found with id '{cursor}'.", param=param, code="invalid_value")
        at = ids.index(cursor)
        ordered, ids = (ordered[at + 1:], ids[at + 1:]) if param == "after" else (ordered[:at], ids[:at])
    if getattr(query, "before", None) is not None:  # the page just before the cursor
        more = len(ordered) > query.limit
        data, cut = tables.page(ordered[-query.limit:], query.limit, lambda item: item, budget=budget)
        has_more = more or cut
    else:
        data, has_more = tables.page(ordered[:query.limit + 1], query.limit, lambda item: item, budget=budget)
    return ItemList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                    has_more=has_more)
