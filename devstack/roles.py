"""Who may use which NATS subjects: one user per role, with the server's subject permissions.

- `edge` publishes the API's requests (every domain's subjects and `vivian.cancel`), pings the
  services (`$SRV.>`), reads the key buckets, writes transcription audio and large request bodies.
- `keys` (the key tool, `python -m services.edge.keys`) is the only writer of the key and project
  buckets.
- each service subscribes to its own subjects only (and `vivian.cancel`, and micro's `$SRV` pings),
  answers the callers (`edge`, `jobs`) on their inboxes, and uses its own JetStream buckets.
- `jobs` is a caller too: a batch line goes to chat or embeddings, a file to and from files.
- `responses` is a caller too: each model turn of a response goes to chat (and a background
  response's model is looked up there first); only it may send chat a Responses request to relay
  to an upstream that has the Responses API (`vivian.chat.responses`).
- `vector_stores` is a caller too: a file's bytes come from files, its chunks' vectors from embeddings.

Every role subscribes to replies under its own inbox prefix (`_INBOX.<role>.>`, see
shared/buscredentials.py), so none can read another's answers. Anything not allowed is denied.
"""

from shared import subjects as s

# Who sends requests and so gets answers: services may publish to these roles' inboxes. A
# service's answer is many messages (stream frames, fragments of a large answer), which
# `allow_responses` (one reply by default, or a per-request reply map the server keeps) fits
# badly; publish rights on the callers' inbox prefixes fit.
CALLERS = ("edge", "jobs", "responses", "vector_stores")

# The subjects each service serves (subscribes to, in its queue group).
SERVES = {
    "chat": [s.CHAT_COMPLETIONS, f"{s.CHAT_COMPLETIONS}.>", s.COMPLETIONS, s.MODELS_LIST, s.MODELS_RETRIEVE,
             s.CHAT_RESPONSES],
    "embeddings": [s.EMBEDDINGS, s.MODERATIONS],
    "audio": ["vivian.audio.>"],
    "images": ["vivian.images.>"],
    "files": ["vivian.files.>", "vivian.uploads.>"],
    "jobs": ["vivian.batches.>", "vivian.fine_tuning.>", s.MODELS_DELETE],
    "responses": [s.RESPONSES, f"{s.RESPONSES}.>", "vivian.conversations.>"],
    "vector_stores": ["vivian.vector_stores.>"],
}
# Served subjects that are no API path: services call them, the edge never does.
INTERNAL = (s.CHAT_RESPONSES,)
SERVICES = tuple(SERVES)
ROLES = ("edge", "keys", *SERVICES)
# Request bodies too large for one message ride this object store (shared/bodystore.py): callers
# write, services read and delete.
BODIES_BUCKET = s.BODIES_BUCKET


# JetStream calls any user of a stream makes: account info, and finding a stream by subject
# (nats-py does when it subscribes to a stream without naming it, as an object store read does).
JS_COMMON = ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]


def inbox(role: str) -> str:
    return f"_INBOX.{role}.>"


def _stream_read(stream: str) -> list[str]:
    """JetStream API calls that read a stream: info, message gets, consumers (KV watches, object
    reads and work queues are consumers), their acks and flow control."""
    api = "$JS.API"
    return [f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.MSG.GET.{stream}",
            f"{api}.DIRECT.GET.{stream}", f"{api}.DIRECT.GET.{stream}.>",
            f"{api}.CONSUMER.CREATE.{stream}", f"{api}.CONSUMER.CREATE.{stream}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.>", f"{api}.CONSUMER.INFO.{stream}.>",
            f"{api}.CONSUMER.DELETE.{stream}.>", f"{api}.CONSUMER.MSG.NEXT.{stream}.>",
            f"$JS.ACK.{stream}.>", f"$JS.FC.{stream}.>"]


def _stream_create(stream: str) -> list[str]:
    # Creating a bucket that exists with the same config is a no-op: each side makes it on first use.
    return [f"$JS.API.STREAM.CREATE.{stream}"]


def kv_read(bucket: str) -> list[str]:
    return [*_stream_read(f"KV_{bucket}"), *_stream_create(f"KV_{bucket}")]


def kv_write(bucket: str) -> list[str]:
    return [*kv_read(bucket), f"$KV.{bucket}.>", f"$JS.API.STREAM.PURGE.KV_{bucket}"]


def objects_read(bucket: str) -> list[str]:
    return [*_stream_read(f"OBJ_{bucket}"), *_stream_create(f"OBJ_{bucket}")]


def objects_write(bucket: str) -> list[str]:
    """Put and delete (a delete writes a marker and purges the chunks)."""
    return [*objects_read(bucket), f"$O.{bucket}.>", f"$JS.API.STREAM.PURGE.OBJ_{bucket}"]


def _service(role: str, *, publish: list[str] = (), subscribe: list[str] = ()) -> dict:
    name = s.SERVICES.get(role, f"vivian-{role}")
    return {
        "publish": {"allow": [*(inbox(c) for c in CALLERS if c != role), *JS_COMMON,
                              *objects_write(BODIES_BUCKET), *publish]},
        "subscribe": {"allow": [*SERVES[role], s.CANCEL, inbox(role), "$SRV.*", f"$SRV.*.{name}",
                                f"$SRV.*.{name}.>", *subscribe]},
        # One answer to anyone else's request (a `$SRV` ping from a tool).
        "allow_responses": True,
    }


def permissions() -> dict[str, dict]:
    """Each role's NATS permissions, as the server config's `permissions` maps."""
    every_request = [subject for served in SERVES.values() for subject in served if subject not in INTERNAL]
    return {
        "edge": {
            "publish": {"allow": [*every_request, s.CANCEL, "$SRV.>", *JS_COMMON,
                                  *kv_read(s.KEYS_BUCKET), *kv_read(s.PROJECTS_BUCKET),
                                  *objects_write(s.AUDIO_BUCKET), *objects_write(BODIES_BUCKET)]},
            "subscribe": {"allow": [inbox("edge")]},
        },
        "keys": {
            "publish": {"allow": [*JS_COMMON, *kv_write(s.KEYS_BUCKET), *kv_write(s.PROJECTS_BUCKET)]},
            "subscribe": {"allow": [inbox("keys")]},
        },
        "chat": _service("chat", publish=[*kv_read(s.FINE_TUNED_BUCKET), *objects_read(s.ADAPTERS_BUCKET)]),
        "embeddings": _service("embeddings"),
        "audio": _service("audio", publish=objects_write(s.AUDIO_BUCKET)),
        "images": _service("images"),
        "files": _service("files"),
        "jobs": _service("jobs", publish=[
            # batch lines and their cancels, and files read and written
            s.CHAT_COMPLETIONS, s.COMPLETIONS, s.EMBEDDINGS, s.MODERATIONS, s.CANCEL,
            s.FILES_CREATE, s.FILES_RETRIEVE, s.FILES_CONTENT, s.FILES_STAGE, s.FILES_STAGE_PARTS,
            s.FILES_STAGE_ABORT,
            # durable work, and the tuned models it publishes
            f"{s.JOBS_TASKS}.>", *_stream_read(s.JOBS_STREAM), *_stream_create(s.JOBS_STREAM),
            f"$JS.API.STREAM.UPDATE.{s.JOBS_STREAM}",
            *kv_write(s.FINE_TUNED_BUCKET), *objects_write(s.ADAPTERS_BUCKET)]),
        # a response's model turns, and their cancels
        "responses": _service("responses", publish=[
            s.CHAT_COMPLETIONS, s.CHAT_RESPONSES, s.MODELS_RETRIEVE, s.CANCEL,
            # background responses: durable work
            f"{s.RESPONSES_TASKS}.>", *_stream_read(s.RESPONSES_STREAM), *_stream_create(s.RESPONSES_STREAM),
            f"$JS.API.STREAM.UPDATE.{s.RESPONSES_STREAM}"]),
        # a file's bytes, its chunks' vectors, and ingestion as durable work
        "vector_stores": _service("vector_stores", publish=[
            s.FILES_RETRIEVE, s.FILES_CONTENT, s.EMBEDDINGS,
            f"{s.VECTOR_STORES_TASKS}.>", *_stream_read(s.VECTOR_STORES_STREAM),
            *_stream_create(s.VECTOR_STORES_STREAM), f"$JS.API.STREAM.UPDATE.{s.VECTOR_STORES_STREAM}"]),
    }
