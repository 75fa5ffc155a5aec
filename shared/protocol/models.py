"""`/v1/models`: OpenAI's `model` object, its list, and what deleting one answers."""

from msgspec import Struct


class Model(Struct, kw_only=True, tag="model", tag_field="object"):
    id: str
    created: int
    owned_by: str


class ModelList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[Model]


class ModelDeleted(Struct, kw_only=True, tag="model", tag_field="object"):
    id: str
    deleted: bool
