"""`/v1/models`: OpenAI's `model` object and its list."""

from typing import Literal

from msgspec import Struct


class Model(Struct, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[Model]
