"""OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`."""

import msgspec


class ErrorObject(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(msgspec.Struct, kw_only=True):
    error: ErrorObject
