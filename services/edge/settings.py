import msgspec


class EdgeSettings(msgspec.Struct, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings")."""

    nats_url: str = "nats://127.0.0.1:4222"
    nats_credentials: str = ""  # path of this role's NATS credentials file (mode 600); empty: no auth
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 600.0  # whole request, as OpenAI's SDK waits by default
    stream_idle_timeout: float = 30.0  # silence (not even a heartbeat) that ends a call as failed
    # The base URL clients reach this edge at (`https://vivian.example.com`), which links to stored
    # images start with; when empty, the scheme and Host of each request.
    public_url: str = ""
    log_level: str = "info"
