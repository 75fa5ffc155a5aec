from services.kit.main import ServiceSettings


class JobsSettings(ServiceSettings, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings" and "Batch API")."""

    mongo_url: str = "mongodb://127.0.0.1:27017/vivian"  # the path names the database
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
    # Fine-tuning (see README, "Fine-tuning")
    models: str = ""  # the model config (VIVIAN_MODELS, as the chat service reads it); config/models.toml when empty
    fine_tuning_dir: str = ""  # where training runs keep files and checkpoints; ~/.vivian/fine_tuning when empty
    fine_tuning_workers: int = 1  # trainings one replica runs at once (each takes ~2 GB and the CPU)
    fine_tuning_threads: int = 2  # torch threads per training
    fine_tuning_max_attempts: int = 3  # starts (first run + resumes after a restart) before a job is failed
    # Jobs of upstream models: seconds between looks at the upstream job, and looks one replica has in flight.
    fine_tuning_poll_interval: float = 3.0
    fine_tuning_upstream_workers: int = 16
