import httpx2
import openai
import pytest

from tests import image_upstream
from tests.conformance import AsyncRecordingTransport, Recorder, RecordingTransport
from tests.stack import Stack, embedding_models_toml, free_port, local_models_toml, make_key

# The files service and its stores, and the images, jobs, responses and vector stores services
# (started only by the tests that use them).
pytest_plugins = ["tests.files_fixtures", "tests.images_fixtures", "tests.jobs_fixtures", "tests.responses_fixtures",
                  "tests.vector_stores_fixtures"]

RELAY_KEY_ENV = "VIVIAN_TEST_RELAY_KEY"
IMAGE_KEY_ENV = "VIVIAN_TEST_IMAGE_KEY"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One stack for the session. Besides the local model it serves `relay-smollm2` through the
    `openai` provider, whose upstream is this same edge: a real OpenAI-compatible server (and
    `relay-responses`, the same with `responses_api`: a real Responses server). Its
    image models route to `tests/image_upstream.py`, another (the images service itself starts
    with the `images` fixture)."""
    s = Stack(home=str(tmp_path_factory.mktemp("stack")))
    s.port = free_port()
    s.image_upstream = image_upstream.ImageUpstream(free_port())
    try:
        s.image_upstream.start()
        s.start_nats()
        s.key = make_key(s.nats_url, name="tests")
        relay = {RELAY_KEY_ENV: make_key(s.nats_url, name="relay"), IMAGE_KEY_ENV: image_upstream.KEY}
        s.start_chat(local_models_toml(f"""
[[models]]
id = "relay-smollm2"
provider = "openai"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "smollm2-135m-instruct"

[[models]]
id = "relay-responses"
provider = "openai"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "smollm2-135m-instruct"
responses_api = true

[[models]]
id = "relay-missing"
provider = "openai"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "no-such-model"

[[models]]
id = "relay-unreachable"
provider = "openai"
base_url = "http://127.0.0.1:{free_port()}/v1"
api_key_env = "{RELAY_KEY_ENV}"

[[models]]
id = "relay-embeddings"
provider = "openai"
api = "embeddings"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "all-minilm-l6-v2"

[[models]]
id = "relay-moderations"
provider = "openai"
api = "moderations"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "toxic-bilstm"

[[models]]
id = "dall-e-2"
provider = "openai"
api = "images"
aliases = ["gpt-image-1"]
base_url = "{s.image_upstream.base_url}"
api_key_env = "{IMAGE_KEY_ENV}"
upstream_model = "painter"

[[models]]
id = "images-unreachable"
provider = "openai"
api = "images"
base_url = "http://127.0.0.1:{free_port()}/v1"
api_key_env = "{IMAGE_KEY_ENV}"

[[models]]
id = "relay-whisper"
provider = "openai"
api = "transcriptions"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "whisper-tiny.en"

[[models]]
id = "relay-whisper-missing"
provider = "openai"
api = "transcriptions"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "no-such-model"

[[models]]
id = "relay-speech"
provider = "openai"
api = "speech"
base_url = "http://127.0.0.1:{s.port}/v1"
api_key_env = "{RELAY_KEY_ENV}"
upstream_model = "tts-1"
{embedding_models_toml()}"""), env=relay)
        s.relay_env = relay
        s.start_service("embeddings", env=relay)
        s.start_service("audio", env=relay)
        s.start_edge({"VIVIAN_MAX_BODY_BYTES": str(1024 * 1024)})
        yield s
    finally:
        s.stop()
        s.image_upstream.stop()


@pytest.fixture(scope="session")
def conformance() -> Recorder:
    """Sees every answer the SDK clients below receive; test_conformance.py reports what it found."""
    return Recorder()


@pytest.fixture(scope="session")
def client(stack, conformance) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=stack.key, max_retries=0, timeout=300,
                         http_client=httpx2.Client(transport=RecordingTransport(conformance), timeout=300))


@pytest.fixture
def aclient(stack, conformance) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key=stack.key, max_retries=0, timeout=300,
                              http_client=httpx2.AsyncClient(transport=AsyncRecordingTransport(conformance),
                                                             timeout=300))


def pytest_collection_modifyitems(items):
    """test_conformance.py judges what all the others received, so it runs last."""
    items.sort(key=lambda item: item.module.__name__.endswith("test_conformance"))


@pytest.fixture
def new_stack(tmp_path):
    """A private stack a test may break (kill, stop) without hurting the others."""
    s = Stack(home=str(tmp_path))
    yield s
    s.stop()
