"""`/v1/images/generations`, `/v1/images/edits`, `/v1/images/variations`: the requests as the edge
checks them, and what the edge and the images service say to each other.

The answer (`ImagesResponse`) is the upstream's JSON, with each image's `url` or `b64_json` put
the way the client asked for (see services/images/results.py), so it has no struct here.
"""

from typing import Annotated, Literal

from msgspec import Meta, Raw, Struct, field

ResponseFormat = Literal["url", "b64_json"]


class ImageGenerationRequest(Struct, kw_only=True):
    """The fields the edge and the service read; every other field goes upstream untouched."""

    prompt: Annotated[str, Meta(min_length=1, max_length=32000)]
    model: str | None = None
    n: Annotated[int, Meta(ge=1, le=10)] | None = None
    response_format: ResponseFormat | None = None
    size: str | None = None
    stream: bool | None = None


class ImageFormFields(Struct, kw_only=True, omit_defaults=True):
    """The text fields of an edit or variation form that the edge and the service read, typed once by
    the edge; the form goes upstream as the client sent it (`ImageCall.fields`)."""

    prompt: Annotated[str, Meta(min_length=1, max_length=32000)] | None = None  # an edit's, required there
    model: str | None = None
    n: Annotated[int, Meta(ge=1, le=10)] | None = None
    response_format: ResponseFormat | None = None
    size: str | None = None
    stream: bool | None = None


class ImageInput(Struct, kw_only=True):
    """One file of an edit or variation form, staged in the object store by the edge."""

    field: str  # the form field it came in: `image`, `image[]` or `mask`
    filename: str
    content_type: str
    key: str  # the object's key
    bytes: int


class ImageCall(Struct, kw_only=True, omit_defaults=True):
    """What the edge sends the images service. Generations carry the client's JSON `body`; edits
    and variations the form's text `fields` in order (repeated names kept), the same typed (`form`),
    and its `files`."""

    origin: str  # scheme://host of the edge the client called: links to stored images start with it
    body: Raw = Raw(b"{}")
    fields: list[tuple[str, str]] = []
    form: ImageFormFields = field(default_factory=ImageFormFields)
    files: list[ImageInput] = []


class ImageContentRequest(Struct, kw_only=True):
    """`GET /v1/images/content/{id}?expires=…&signature=…`: a link the service made and signed."""

    id: str
    expires: int
    signature: str
