import msgspec


class AudioSettings(msgspec.Struct, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings")."""

    nats_url: str = "nats://127.0.0.1:4222"
    models: str = ""  # path of the model config file; config/models.toml when empty
    heartbeat_interval: float = 2.0
    drain_timeout: float = 20.0
    log_level: str = "info"
