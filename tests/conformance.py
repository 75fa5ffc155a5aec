"""Every chat, completions and models answer the tests receive, checked against OpenAI's schemas.

The SDK clients of the test suite talk through `RecordingTransport`, which hands each response body
(and each SSE event of a stream) to a `Recorder`; the recorder validates it against the matching
schema of `spec/openai-openapi.yml` and keeps any violation for `test_conformance.py` to report.
"""

import base64
import json
import os
import re
import struct
from collections import Counter
from functools import cache

import httpx2
import jsonschema
import yaml

SPEC = os.path.join(os.path.dirname(__file__), os.pardir, "spec", "openai-openapi.yml")


def _nullable_to_null(node):
    """OpenAPI 3.0's `nullable: true`, which this 3.1 file still uses, as JSON Schema's null type
    (and 3.0's `exclusiveMinimum: true` as 3.1's number)."""
    if isinstance(node, list):
        return [_nullable_to_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_null(value) for key, value in node.items()}
    if node.get("exclusiveMinimum") is True and "minimum" in node:  # 3.0's boolean form, also still used
        node["exclusiveMinimum"] = node.pop("minimum")
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _document() -> dict:
    with open(SPEC, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {"components": _nullable_to_null(doc["components"])}


@cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    root = {**_document(), "$ref": f"#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(root)


def violations(schema_name: str, obj) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
            for e in validator(schema_name).iter_errors(obj)]


def schema_for(method: str, path: str, status: int, streamed: bool) -> str | None:
    """The OpenAPI schema an answer on `path` must fit; None for paths this module does not cover."""
    path = path.split("?")[0].removeprefix("/v1")
    if status >= 400:
        return "ErrorResponse"
    if method == "POST" and path == "/chat/completions":
        return "CreateChatCompletionStreamResponse" if streamed else "CreateChatCompletionResponse"
    if method == "POST" and path == "/completions":
        return "CreateCompletionResponse"  # OpenAI streams the same object, chunk by chunk
    if method == "POST" and path == "/embeddings":
        return "CreateEmbeddingResponse"
    if method == "POST" and path == "/moderations":
        return "CreateModerationResponse"
    if method == "GET" and path == "/models":
        return "ListModelsResponse"
    if method == "GET" and path.startswith("/models/"):
        return "Model"
    if method == "DELETE" and path.startswith("/models/"):
        return "DeleteModelResponse"
    if method == "POST" and path in ("/images/generations", "/images/edits", "/images/variations"):
        if streamed:
            return "ImageEditStreamEvent" if path == "/images/edits" else "ImageGenStreamEvent"
        return "ImagesResponse"
    if method == "POST" and path == "/audio/speech":  # the file itself, unless it comes as events
        return "CreateSpeechResponseStreamEvent" if streamed else None
    if method == "POST" and path == "/audio/transcriptions":
        return "CreateTranscriptionResponseStreamEvent" if streamed else "CreateTranscriptionResponseJson"
    if method == "POST" and path == "/audio/translations":
        return "CreateTranslationResponseJson"
    if (method == "POST" and path == "/responses") or (method == "GET" and re.fullmatch(r"/responses/[^/]+", path)):
        return "ResponseStreamEvent" if streamed else "Response"
    for verb, pattern, schema in _FILES + _BATCHES + _FINE_TUNING + _CHAT_STORED + _RESPONSES + _VECTOR_STORES:
        if method == verb and re.fullmatch(pattern, path):
            return schema
    return None


# /v1/fine_tuning/jobs
_FINE_TUNING = [
    ("POST", r"/fine_tuning/jobs", "FineTuningJob"),
    ("GET", r"/fine_tuning/jobs", "ListPaginatedFineTuningJobsResponse"),
    ("GET", r"/fine_tuning/jobs/[^/]+", "FineTuningJob"),
    ("POST", r"/fine_tuning/jobs/[^/]+/cancel", "FineTuningJob"),
    ("GET", r"/fine_tuning/jobs/[^/]+/events", "ListFineTuningJobEventsResponse"),
    ("GET", r"/fine_tuning/jobs/[^/]+/checkpoints", "ListFineTuningJobCheckpointsResponse"),
    ("POST", r"/fine_tuning/checkpoints/.+/permissions", "ListFineTuningCheckpointPermissionResponse"),
    ("GET", r"/fine_tuning/checkpoints/.+/permissions", "ListFineTuningCheckpointPermissionResponse"),
    ("DELETE", r"/fine_tuning/checkpoints/.+/permissions/[^/]+", "DeleteFineTuningCheckpointPermissionResponse"),
]


# /v1/files and /v1/uploads; `GET /files/{id}/content` is the file's own bytes, not JSON.
_FILES = [
    ("POST", r"/files", "OpenAIFile"),
    ("GET", r"/files", "ListFilesResponse"),
    ("GET", r"/files/[^/]+", "OpenAIFile"),
    ("DELETE", r"/files/[^/]+", "DeleteFileResponse"),
    ("POST", r"/uploads(/[^/]+/(complete|cancel))?", "Upload"),
    ("POST", r"/uploads/[^/]+/parts", "UploadPart"),
]

# /v1/batches
_BATCHES = [
    ("POST", r"/batches", "Batch"),
    ("GET", r"/batches", "ListBatchesResponse"),
    ("GET", r"/batches/[^/]+", "Batch"),
    ("POST", r"/batches/[^/]+/cancel", "Batch"),
]

# Stored chat completions. The message list is left out: its schema takes each message for an
# answer's (`role: assistant` only), while the list holds the request's messages, as OpenAI's own
# example shows (`"role": "user"`).
_CHAT_STORED = [
    ("GET", r"/chat/completions", "ChatCompletionList"),
    ("GET", r"/chat/completions/[^/]+", "CreateChatCompletionResponse"),
    ("POST", r"/chat/completions/[^/]+", "CreateChatCompletionResponse"),
    ("DELETE", r"/chat/completions/[^/]+", "ChatCompletionDeleted"),
]

# /v1/responses (DELETE answers an object the spec does not describe) and /v1/conversations
_RESPONSES = [
    ("POST", r"/responses/[^/]+/cancel", "Response"),
    ("POST", r"/responses/input_tokens", "TokenCountsResource"),
    ("POST", r"/responses/compact", "CompactResource"),
    ("GET", r"/responses/[^/]+/input_items", "ResponseItemList"),
    ("POST", r"/conversations", "ConversationResource"),
    ("GET", r"/conversations/[^/]+", "ConversationResource"),
    ("POST", r"/conversations/[^/]+", "ConversationResource"),
    ("DELETE", r"/conversations/[^/]+", "DeletedConversationResource"),
    ("GET", r"/conversations/[^/]+/items", "ConversationItemList"),
    ("POST", r"/conversations/[^/]+/items", "ConversationItemList"),
    ("GET", r"/conversations/[^/]+/items/[^/]+", "ConversationItem"),
    ("DELETE", r"/conversations/[^/]+/items/[^/]+", "ConversationResource"),
]

# /v1/vector_stores and its files, file batches and search
_VECTOR_STORES = [
    ("POST", r"/vector_stores", "VectorStoreObject"),
    ("GET", r"/vector_stores", "ListVectorStoresResponse"),
    ("GET", r"/vector_stores/[^/]+", "VectorStoreObject"),
    ("POST", r"/vector_stores/[^/]+", "VectorStoreObject"),
    ("DELETE", r"/vector_stores/[^/]+", "DeleteVectorStoreResponse"),
    ("POST", r"/vector_stores/[^/]+/search", "VectorStoreSearchResultsPage"),
    ("POST", r"/vector_stores/[^/]+/files", "VectorStoreFileObject"),
    ("GET", r"/vector_stores/[^/]+/files", "ListVectorStoreFilesResponse"),
    ("GET", r"/vector_stores/[^/]+/files/[^/]+", "VectorStoreFileObject"),
    ("POST", r"/vector_stores/[^/]+/files/[^/]+", "VectorStoreFileObject"),
    ("DELETE", r"/vector_stores/[^/]+/files/[^/]+", "DeleteVectorStoreFileResponse"),
    ("GET", r"/vector_stores/[^/]+/files/[^/]+/content", "VectorStoreFileContentResponse"),
    ("POST", r"/vector_stores/[^/]+/file_batches", "VectorStoreFileBatchObject"),
    ("GET", r"/vector_stores/[^/]+/file_batches/[^/]+", "VectorStoreFileBatchObject"),
    ("POST", r"/vector_stores/[^/]+/file_batches/[^/]+/cancel", "VectorStoreFileBatchObject"),
    ("GET", r"/vector_stores/[^/]+/file_batches/[^/]+/files", "ListVectorStoreFilesResponse"),
]


_VERBOSE = {"CreateTranscriptionResponseJson": "CreateTranscriptionResponseVerboseJson",
            "CreateTranslationResponseJson": "CreateTranslationResponseVerboseJson"}


def _decoded_embeddings(answer: dict) -> dict:
    """`encoding_format: "base64"` (what the Python SDK asks for) makes each embedding a base64
    string of little-endian float32, which OpenAI returns but its schema does not describe: check
    the vector it holds, and that it holds whole floats."""
    data = []
    for item in answer.get("data", ()):
        if isinstance(item.get("embedding"), str):
            raw = base64.b64decode(item["embedding"])
            floats = list(struct.unpack(f"<{len(raw) // 4}f", raw)) if len(raw) % 4 == 0 else item["embedding"]
            item = {**item, "embedding": floats}
        data.append(item)
    return {**answer, "data": data}


def _empty_page(page: dict) -> dict:
    """An empty page has no first or last id: OpenAI sends null, as its newer list schemas say
    (`anyOf: [string, null]`); the files list schema predates that and says string."""
    if page.get("data") == [] and page.get("first_id") is None and page.get("last_id") is None:
        return {**page, "first_id": "", "last_id": ""}
    return page


def _as_whole_answer(chunk: dict) -> dict:
    """OpenAI's legacy completion chunks carry `finish_reason: null` until the last one, but its
    schema describes only the whole answer, where it is a string: check the rest of the chunk."""
    choices = [{**c, "finish_reason": c.get("finish_reason") or "stop"} for c in chunk.get("choices", ())]
    return {**chunk, "choices": choices}


class Recorder:
    def __init__(self) -> None:
        self.checked: Counter[str] = Counter()
        self.failures: list[str] = []

    def record(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        streamed = content_type.startswith("text/event-stream")
        schema = schema_for(method, path, status, streamed)
        if schema is None or content_type.startswith("text/plain"):  # text, srt and vtt transcripts
            return
        objects = [json.loads(body)] if not streamed else [
            json.loads(line[6:]) for line in body.decode().split("\n") if line.startswith("data: {")]
        for obj in objects:
            # An error inside a stream; a whole answer's status already says (a fine-tuning job has
            # an `error` field of its own).
            kind = "ErrorResponse" if streamed and isinstance(obj, dict) and "error" in obj else schema
            if streamed and kind == "CreateCompletionResponse":
                obj = _as_whole_answer(obj)
            if kind in ("ListFilesResponse", "ListBatchesResponse", "ChatCompletionList", "ResponseItemList",
                        "ConversationItemList", "ListVectorStoresResponse", "ListVectorStoreFilesResponse"):
                obj = _empty_page(obj)
            if kind == "FineTuningJob" and obj.get("status") == "paused":
                obj = {**obj, "status": "running"}  # the spec's enum lacks it; its own pause example answers it
            if kind == "CreateEmbeddingResponse":
                obj = _decoded_embeddings(obj)
            if kind in _VERBOSE and "duration" in obj:  # response_format verbose_json
                kind = _VERBOSE[kind]
            self.checked[kind] += 1
            self.failures.extend(f"{method} {path} {kind}: {v}" for v in violations(kind, obj))


class _Tee:
    def __init__(self, stream, done) -> None:
        self._stream, self._done, self._body = stream, done, bytearray()

    def __iter__(self):
        for piece in self._stream:
            self._body += piece
            yield piece

    async def __aiter__(self):
        async for piece in self._stream:
            self._body += piece
            yield piece

    def close(self) -> None:
        self._stream.close()
        self._done(bytes(self._body))

    async def aclose(self) -> None:
        await self._stream.aclose()
        self._done(bytes(self._body))


def _teed(recorder: Recorder, request: httpx2.Request, response: httpx2.Response, stream_type) -> httpx2.Response:
    def done(body: bytes) -> None:
        recorder.record(request.method, request.url.path, response.status_code,
                        response.headers.get("content-type", ""), body)

    tee = type("Tee", (_Tee, stream_type), {})(response.stream, done)
    return httpx2.Response(response.status_code, headers=response.headers, stream=tee,
                           extensions=response.extensions, request=request)


class RecordingTransport(httpx2.BaseTransport):
    def __init__(self, recorder: Recorder) -> None:
        self._inner, self._recorder = httpx2.HTTPTransport(), recorder

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return _teed(self._recorder, request, self._inner.handle_request(request), httpx2.SyncByteStream)

    def close(self) -> None:
        self._inner.close()


class AsyncRecordingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, recorder: Recorder) -> None:
        self._inner, self._recorder = httpx2.AsyncHTTPTransport(), recorder

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return _teed(self._recorder, request, await self._inner.handle_async_request(request), httpx2.AsyncByteStream)

    async def aclose(self) -> None:
        await self._inner.aclose()
