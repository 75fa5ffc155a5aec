"""`/v1/embeddings`: the request and the answer."""

from typing import Annotated, Literal

from msgspec import Meta, Struct

# A string, strings, token ids or lists of token ids; msgspec unions hold one array type, so the
# element type is the union (mixed arrays are refused by the service).
EmbeddingInput = str | Annotated[list[str | int | list[int]], Meta(min_length=1, max_length=2048)]


class EmbeddingRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


class Embedding(Struct, kw_only=True, tag="embedding", tag_field="object"):
    index: int
    embedding: list[float] | str  # base64 of little-endian float32 when asked for


class EmbeddingUsage(Struct, kw_only=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
