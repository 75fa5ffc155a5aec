import os

from services.kit.main import ServiceSettings

# all-MiniLM-L6-v2's tokenizer, kept in this repository (the embeddings service's default model).
DEFAULT_TOKENIZER = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "models", "all-minilm-l6-v2",
                                 "tokenizer.json")


class VectorStoresSettings(ServiceSettings, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Vector stores")."""

    mongo_url: str = "mongodb://127.0.0.1:27017/vivian"  # the path names the database
    # Where vectors live: "edge" (embedded, in `vectors_dir`, one process only) or "server" (a Qdrant
    # at `qdrant_url`, shared by any number of replicas).
    vector_backend: str = "edge"
    vectors_dir: str = ""  # ~/.vivian/vectors when empty
    qdrant_url: str = "http://127.0.0.1:6333"  # ":memory:" runs qdrant-client's local mode (tests only)
    qdrant_api_key: str = ""
    qdrant_collection: str = "vivian_chunks"
    # The embedding model chunks and queries go to (over the bus), its dimensions, its tokenizer
    # (chunk sizes are counted in its tokens) and the most tokens one vector is made of.
    embedding_model: str = "all-minilm-l6-v2"
    embedding_dimensions: int = 384
    tokenizer: str = ""  # a tokenizer.json; all-MiniLM-L6-v2's when empty
    embedding_window_tokens: int = 240  # MiniLM reads 256, [CLS] and [SEP] included; a margin for re-tokenising
    embedding_batch: int = 64  # texts per embeddings call
    # Calls to the files and embeddings services.
    call_timeout: float = 600.0
    call_idle_timeout: float = 60.0
    # Ingestion (JetStream): files one replica ingests at once; a file not reported alive for
    # `ack_wait` seconds (its replica died) goes to another; after `ingest_attempts` starts it fails.
    ingest_workers: int = 2
    ack_wait: float = 30.0
    ingest_attempts: int = 3
    max_file_bytes: int = 64 * 1024 * 1024  # bytes of one file read for parsing
    sweep_interval: float = 60.0  # seconds between looks for expired stores
    expiry_day: float = 86400.0  # seconds in one of `expires_after.days` (tests shorten it)
