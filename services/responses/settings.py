from services.kit.main import ServiceSettings


class ResponsesSettings(ServiceSettings, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings" and "Responses and
    Conversations")."""

    mongo_url: str = "mongodb://127.0.0.1:27017/vivian"  # the path names the database
    # Calls to the chat service, which runs each model turn.
    call_timeout: float = 600.0  # the most one turn may take
    call_idle_timeout: float = 60.0  # silence (not even a heartbeat) that fails a turn
    # Background responses (`background: true`): turns one replica runs at once; a turn not reported
    # alive for `ack_wait` seconds (its replica died) goes to another, which ends it `failed`.
    background_workers: int = 4
    ack_wait: float = 30.0
    stream_poll: float = 0.1  # seconds between looks for new events of a stream followed from the store
    # A foreground turn's stored response says it is alive for `lease` seconds, renewed while it
    # runs; once that lapses (its replica died) a sweep ends it `failed`.
    lease: float = 30.0
    sweep_interval: float = 10.0  # seconds between sweeps
    retention_days: float = 30.0  # stored responses are deleted this long after they were created; 0: never
    compact_tokens: int = 512  # the most a compaction's summary may take (POST /v1/responses/compact)
