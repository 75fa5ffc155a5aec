"""`/v1/moderations`: the request and the answer, with OpenAI's thirteen categories."""

from typing import Annotated

from msgspec import Meta, Struct

CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)


class TextInput(Struct, tag="text", tag_field="type"):
    text: str


class ImageURL(Struct, kw_only=True):
    url: str


class ImageInput(Struct, tag="image_url", tag_field="type"):
    image_url: ImageURL


ModerationInput = str | Annotated[list[str | TextInput | ImageInput], Meta(min_length=1, max_length=128)]


class ModerationRequest(Struct, kw_only=True, omit_defaults=True):
    input: ModerationInput
    model: str = "omni-moderation-latest"


class ModerationResult(Struct, kw_only=True):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]


class Moderation(Struct, kw_only=True):
    id: str
    model: str
    results: list[ModerationResult]


