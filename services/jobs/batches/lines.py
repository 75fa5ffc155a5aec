"""One line of a batch: checked while the batch validates, then run through the same bus subject
as the online request for its endpoint, with the batch's project, so both give the same answer."""

import asyncio
import logging
import secrets

import msgspec
from nats.aio.client import Client

from shared import errors, subjects
from shared.bus import Caller, NoResponders
from shared.protocol.batches import BatchError, InputLine, LineError, LineResponse, OutputLine
from shared.protocol.bus import Data, Envelope, Failure, TokenCounts
from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.completions import CompletionRequest
from shared.protocol.embeddings import EmbeddingRequest
from shared.protocol.moderations import ModerationRequest

log = logging.getLogger("jobs")

SUBJECTS = {"/v1/chat/completions": subjects.CHAT_COMPLETIONS, "/v1/completions": subjects.COMPLETIONS,
            "/v1/embeddings": subjects.EMBEDDINGS, "/v1/moderations": subjects.MODERATIONS}
_BODIES = {"/v1/chat/completions": msgspec.json.Decoder(ChatCompletionRequest),
           "/v1/completions": msgspec.json.Decoder(CompletionRequest),
           "/v1/embeddings": msgspec.json.Decoder(EmbeddingRequest),
           "/v1/moderations": msgspec.json.Decoder(ModerationRequest)}
_object = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_line = msgspec.json.Decoder(InputLine).decode
_custom_id = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_encode = msgspec.json.Encoder().encode
# A service that is not there, or restarting, is waited for: the line is not its fault.
RETRIED_STATUSES = frozenset({502, 503, 504})
MAX_BACKOFF = 5.0
MAX_ERRORS = 1000  # bad lines listed on a failed batch


class Checked(msgspec.Struct, kw_only=True):
    custom_id: str
    model: str


def check(raw: bytes, *, number: int, endpoint: str) -> Checked | BatchError:
    """A line as the batch will run it, or what is wrong with it (`number`: its line in the file)."""

    def bad(code: str, message: str, param: str | None = None) -> BatchError:
        return BatchError(code=code, message=message, param=param, line=number)

    try:
        fields = _object(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return bad("invalid_json_line", "This line is not parseable as valid JSON.")
    if "custom_id" not in fields:
        return bad("missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id")
    try:
        line = _line(raw)
    except msgspec.ValidationError as err:
        problem = errors.from_validation(err)
        return bad(problem.code or "invalid_request", problem.message, problem.param)
    if line.method != "POST":
        return bad("invalid_method", f"The method must be 'POST', not '{line.method}'.", "method")
    if line.url != endpoint:
        return bad("invalid_url", f"The url '{line.url}' does not match the batch's endpoint '{endpoint}'.", "url")
    try:
        body = _BODIES[endpoint].decode(line.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        problem = errors.from_validation(err)
        param = f"body.{problem.param}" if problem.param else "body"
        return bad("invalid_body", f"The body is not a valid {endpoint} request: {problem.message}", param)
    if getattr(body, "stream", None):
        return bad("invalid_body", "Batch requests cannot stream: leave out 'stream'.", "body.stream")
    return Checked(custom_id=line.custom_id, model=body.model)


class Scan:
    """What validation learns from the input file, fed its lines in order: the bad lines (up to
    `MAX_ERRORS` listed, all counted), the batch's model, and where each chunk of `chunk_lines`
    request lines (blank lines are not requests) starts in the file."""

    def __init__(self, *, endpoint: str, chunk_lines: int) -> None:
        self._endpoint, self._chunk_lines = endpoint, chunk_lines
        self._seen: set[str] = set()
        self._number = 0  # lines of the file so far, blank ones included
        self.errors: list[BatchError] = []
        self.bad = 0
        self.model: str | None = None  # the first good line's
        self.requests = 0
        self.starts: list[int] = []  # each chunk's first byte
        self.end = 0  # past the last request line

    def feed(self, offset: int, raw: bytes) -> None:
        self._number += 1
        if not raw.strip():
            return
        if self.requests % self._chunk_lines == 0:
            self.starts.append(offset)
        self.requests += 1
        self.end = offset + len(raw) + 1
        checked = check(raw, number=self._number, endpoint=self._endpoint)
        if isinstance(checked, BatchError):
            error = checked
        elif checked.custom_id in self._seen:
            error = BatchError(code="duplicate_custom_id", line=self._number, param="custom_id",
                               message="The custom_id for this request is a duplicate of another request. "
                                       "The custom_id parameter must be unique for each request in a batch.")
        elif self.model is not None and checked.model != self.model:
            error = BatchError(code="mismatched_model", line=self._number, param="body.model",
                               message=f"All requests of a batch must use the same model: this line uses "
                                       f"'{checked.model}', the batch '{self.model}'.")
        else:
            self._seen.add(checked.custom_id)
            self.model = checked.model
            return
        self.bad += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    def ranges(self) -> list[tuple[int, int]]:
        """Each chunk's bytes, [start, end)."""
        return [(start, self.starts[i + 1] if i + 1 < len(self.starts) else self.end)
                for i, start in enumerate(self.starts)]


def custom_id_of(raw: bytes) -> str | None:
    """A line's custom_id, as far as it has one (for the lines a stopped batch never ran)."""
    try:
        value = _custom_id(raw).get("custom_id")
        return msgspec.json.decode(value) if value is not None else None
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class Ran(msgspec.Struct, kw_only=True):
    ok: bool
    line: str
    usage: TokenCounts | None = None


def stopped(raw: bytes, *, code: str, message: str) -> str:
    """The error line of a request the batch never ran."""
    custom_id = custom_id_of(raw)
    return _encode(OutputLine(id=new_request_id(), custom_id=custom_id, response=None,
                              error=LineError(code=code, message=message))).decode()


def new_request_id() -> str:
    return "batch_req_" + secrets.token_hex(12)


async def run(nc: Client, caller: Caller, raw: bytes, *, endpoint: str, project: str, idle_timeout: float,
              timeout: float) -> Ran:
    """Run one (valid) line until it has an answer: retried while its service is missing or
    restarting, never turned into an error for that."""
    line = _line(raw)
    line_id = new_request_id()
    backoff = 0.25
    while True:
        request_id = "req_" + secrets.token_hex(12)
        envelope = Envelope(request_id=request_id, project=project, body=line.body)
        try:
            status, body, usage = await _call(caller, SUBJECTS[endpoint], envelope, idle_timeout=idle_timeout,
                                              timeout=timeout)
        except (NoResponders, TimeoutError):
            status, body, usage = 503, b"", None
        except asyncio.CancelledError:
            # Stopped (a cancelled batch): the service running it stops too, as for a client gone.
            await asyncio.shield(nc.publish(subjects.CANCEL, request_id.encode()))
            raise
        if status not in RETRIED_STATUSES:
            break
        log.info("batch line %s: %s answered %d; retrying in %.1fs", line.custom_id, endpoint, status, backoff)
        await asyncio.sleep(backoff)
        backoff = min(MAX_BACKOFF, backoff * 2)
    out = OutputLine(id=line_id, custom_id=line.custom_id,
                     response=LineResponse(status_code=status, request_id=request_id, body=msgspec.Raw(body)),
                     error=None)
    return Ran(ok=status == 200, line=_encode(out).decode(), usage=usage)


async def _call(caller: Caller, subject: str, envelope: Envelope, *, idle_timeout: float,
                timeout: float) -> tuple[int, bytes, TokenCounts | None]:
    async with asyncio.timeout(timeout):
        async for frame in caller.frames(subject, envelope, idle_timeout=idle_timeout):
            match frame:
                case Data():
                    return 200, bytes(frame.body), frame.usage
                case Failure():
                    if frame.status in RETRIED_STATUSES:
                        return frame.status, b"", None
                    return frame.status, _encode({"error": frame.error}), None
    return 503, b"", None
