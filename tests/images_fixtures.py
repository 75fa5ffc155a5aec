"""The images service joined to the session stack (a pytest plugin, see conftest.py), on the
session's S3 store with a bucket of its own."""

import secrets
from collections.abc import Iterator

import pytest

from tests.files_fixtures import S3


def images_env(stack, s3: S3, **extra: str) -> dict[str, str]:
    return {"VIVIAN_S3_ENDPOINT": s3.endpoint, "VIVIAN_S3_ACCESS_KEY": s3.access_key,
            "VIVIAN_S3_SECRET_KEY": s3.secret_key, "VIVIAN_S3_BUCKET": f"vivian-images-{secrets.token_hex(4)}",
            **stack.relay_env, **extra}


@pytest.fixture(scope="session")
def images(stack, s3_store) -> Iterator[dict[str, str]]:
    """The settings the images service runs with (its bucket: `VIVIAN_S3_BUCKET`)."""
    env = images_env(stack, s3_store)
    stack.start_service("images", env=env)
    yield env
