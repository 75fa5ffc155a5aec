from services.kit.main import ServiceSettings

MiB = 1024 * 1024


class FilesSettings(ServiceSettings, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Settings" and "Files")."""

    mongo_url: str = "mongodb://127.0.0.1:27017/vivian"  # the path names the database
    s3_endpoint: str = "http://127.0.0.1:8333"  # the edge must reach this address too (presigned URLs)
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "vivian-files"
    s3_region: str = "us-east-1"
    max_file_bytes: int = 512 * MiB  # POST /v1/files, as on OpenAI
    max_upload_bytes: int = 8 * 1024 * MiB  # a whole /v1/uploads Upload, as on OpenAI
    # Bytes staged but never committed (a client or an edge that went away) are reclaimed after this.
    staging_timeout: float = 2 * 3600.0
    sweep_interval: float = 60.0  # seconds between sweeps for expired files, uploads and stale stages
