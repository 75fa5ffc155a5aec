"""One error family for the whole project. Code raises `ApiError`; the edge turns it into HTTP."""

import re

import msgspec

from shared.protocol.errors import ErrorObject

# nginx's status for "the client went away first": how a cancelled request is logged and counted.
CLIENT_CLOSED = 499
# The chat service's answer to a Responses request for a model whose upstream lacks the Responses
# API: the responses service then translates it to chat completions.
NOT_RESPONSES_API = "responses_api_unsupported"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def to_object(self) -> ErrorObject:
        return ErrorObject(message=self.message, type=self.type, param=self.param, code=self.code)

    @classmethod
    def from_object(cls, status: int, error: ErrorObject) -> "ApiError":
        return cls(status, error.message, type=error.type, param=error.param, code=error.code)


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def server_error(message: str = "The server had an error while processing your request.") -> ApiError:
    return ApiError(500, message, type="server_error")


def service_unavailable(what: str) -> ApiError:
    return ApiError(
        503,
        f"No {what} service is available right now. Please retry later.",
        type="server_error",
        code="service_unavailable",
    )


def bus_unavailable() -> ApiError:
    return ApiError(
        503,
        "The service bus is unavailable right now. Please retry later.",
        type="server_error",
        code="service_unavailable",
    )


def timed_out(what: str) -> ApiError:
    return ApiError(504, f"The {what} service did not answer in time.", type="server_error", code="timeout")


# msgspec names a bad map key "at `key` in `$.metadata`": the map is the parameter.
_AT_PATH = re.compile(r"^(?P<msg>.*?)(?: - at (?:`key` in )?`\$(?P<path>[^`]*)`)?$", re.S)
_OUT_OF_RANGE = re.compile(r"^Expected `(?P<kind>int|float)` (?P<op><=|>=) (?P<limit>\S+)$")


def from_validation(err: msgspec.ValidationError | msgspec.DecodeError) -> ApiError:
    """A msgspec decode failure as a 400 whose `param` names the offending field."""
    if not isinstance(err, msgspec.ValidationError):
        return invalid_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        )
    match = _AT_PATH.match(str(err))
    # `[...]` is msgspec's name for any value of a map (`logit_bias[...]`): the map is the parameter.
    message, path = match["msg"], (match["path"] or "").lstrip(".").replace("[...]", "")
    if message.startswith("Object missing required field"):
        field = message.split("`")[1]
        path = f"{path}.{field}" if path else field
        return invalid_request(f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter")
    if bound := _OUT_OF_RANGE.match(message):  # OpenAI's words for a number out of its range
        kind = "integer" if bound["kind"] == "int" else "decimal"
        side, code = ("above maximum", "above_max") if bound["op"] == "<=" else ("below minimum", "below_min")
        return invalid_request(f"Invalid '{path}': {kind} {side} value. Expected a value {bound['op']} "
                               f"{bound['limit']}.", param=path or None, code=f"{kind}_{code}_value")
    if message.startswith("Invalid value"):
        return invalid_request(f"Invalid value for '{path}': {message}.", param=path or None, code="invalid_value")
    return invalid_request(f"Invalid type or value for '{path}': {message}.", param=path or None, code="invalid_type")
