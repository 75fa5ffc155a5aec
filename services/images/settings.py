from services.kit.main import ModelServiceSettings

MiB = 1024 * 1024


class ImagesSettings(ModelServiceSettings, kw_only=True):
    """Read from `VIVIAN_<FIELD>` environment variables (see README, "Images")."""

    # The object store where generated images (for `url` answers) and edit inputs are kept: the
    # same settings, and by default the same bucket, as the files service's.
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "vivian-files"
    s3_region: str = "us-east-1"
    image_url_ttl: float = 3600.0  # a link to a generated image works this long, as OpenAI's (60 minutes)
    # Signs those links; every replica needs the same one. Empty: derived from s3_secret_key.
    image_signing_key: str = ""
    max_image_bytes: int = 50 * MiB  # one input image of an edit or variation, as OpenAI's GPT image models
    sweep_interval: float = 300.0  # seconds between removals of expired images and forgotten inputs
