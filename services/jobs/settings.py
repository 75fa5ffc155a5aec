import msgspec


class JobsSettings(msgspec.Struct, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings" and "Batch API")."""

    nats_url: str = "nats://127.0.0.1:4222"
    mongo_url: str = "mongodb://127.0.0.1:27017/vivian"  # the path names the database
    heartbeat_interval: float = 2.0
    drain_timeout: float = 20.0  # on SIGTERM, seconds running requests get to finish
    log_level: str = "info"
    # Calls this service makes to the others (the files service, a batch line to a model service).
    call_timeout: float = 600.0  # the most one call may take
    call_idle_timeout: float = 60.0  # silence (not even a heartbeat) that fails a call
    # JetStream: a task not acked (nor reported in progress) within `ack_wait` seconds goes to
    # another replica; a running task reports progress every `ack_wait / 3`.
    ack_wait: float = 30.0
    sweep_interval: float = 5.0  # seconds between looks for work past its deadline (expired batches)
    # Batches
    batch_window_unit: float = 3600.0  # seconds in one "h" of `completion_window` (tests shorten "24h")
    batch_chunk_lines: int = 100  # lines per task: the unit of work, of retry and of progress
    batch_workers: int = 2  # chunk tasks one replica runs at once
    batch_line_concurrency: int = 4  # lines of one chunk in flight at once
    batch_model_concurrency: int = 4  # batch lines in flight per model in one replica
    batch_stop_grace: float = 2.0  # seconds a cancel or an expiry gives running lines to be saved
