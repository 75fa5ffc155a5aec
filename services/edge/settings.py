import msgspec


class EdgeSettings(msgspec.Struct, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings")."""

    nats_url: str = "nats://127.0.0.1:4222"
    nats_credentials: str = ""  # path of this role's NATS credentials file (mode 600); empty: no auth
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 600.0  # whole request, as OpenAI's SDK waits by default
    # Silence (not even a heartbeat, which services send after 1 s) that ends a call as failed: a
    # service that dies mid-stream is an error event this long after its last frame.
    stream_idle_timeout: float = 3.0
    # How long a request may take to reach a service: it carries this deadline, and a service
    # that gets it later drops it (the edge has answered 504 by then), so a request whose client
    # was told it failed never runs later.
    accept_timeout: float = 10.0
    # The base URL clients reach this edge at (`https://vivian.example.com`), which links to stored
    # images start with; when empty, the scheme and Host of each request.
    public_url: str = ""
    log_level: str = "info"
    # Seconds a request body may go without finishing or bringing 1 KiB a second while the edge
    # waits for it (a client that sent less than its Content-Length, stopped mid-upload, trickles):
    # then a 408 and the connection closes. A window, not the whole body: a large upload on a slow
    # link still goes through, and time the edge itself holds the body back does not count. 0: off.
    body_read_timeout: float = 60.0
    # The request line and each header line, in bytes (a longer one is a 431), and how many headers.
    max_header_bytes: int = 8190
    max_headers: int = 100
    # /metrics: when `metrics_token` is set, it needs `Authorization: Bearer <token>`; when
    # `metrics_port` is set, it is served only there (on `metrics_host`, else `host`), not on `port`.
    metrics_token: str = ""
    metrics_host: str = ""
    metrics_port: int = 0
