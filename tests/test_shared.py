"""Unit tests for shared/: settings from the environment, the model config file, error mapping."""

import os

import msgspec
import pytest

from services.edge.settings import EdgeSettings
from services.kit.main import ModelServiceSettings
from shared import errors, modelconfig
from shared.protocol.chat import ChatCompletionRequest
from shared.settings import from_env


def test_settings_read_vivian_variables():
    settings = from_env(EdgeSettings, {"VIVIAN_PORT": "9000", "VIVIAN_NATS_URL": "nats://x:1", "PORT": "1"})
    assert (settings.port, settings.nats_url, settings.host) == (9000, "nats://x:1", "127.0.0.1")
    assert from_env(ModelServiceSettings, {"VIVIAN_HEARTBEAT_INTERVAL": "0.25"}).heartbeat_interval == 0.25


def test_bad_setting_stops_with_a_message():
    with pytest.raises(SystemExit, match="port"):
        from_env(EdgeSettings, {"VIVIAN_PORT": "eighty"})


def write(tmp_path, text):
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


def test_model_config_resolves_paths_and_providers(tmp_path):
    config = modelconfig.load(write(tmp_path, """
[[models]]
id = "a"
provider = "local"
path = "weights/a.gguf"
aliases = ["gpt-4"]

[[models]]
id = "b"
provider = "openai"
base_url = "http://127.0.0.1:1/v1"
"""))
    local, upstream = config.models
    assert isinstance(local, modelconfig.LocalModel) and local.path == str(tmp_path / "weights" / "a.gguf")
    assert isinstance(upstream, modelconfig.OpenAIModel) and upstream.api_key_env == "OPENAI_API_KEY"


def test_default_model_config_loads_the_packaged_models():
    chat, smollm2, embedding, moderation, speech, whisper_base, whisper_tiny = modelconfig.load().models
    assert chat.id == "qwen2.5-coder-0.5b-instruct" and "gpt-4" in chat.aliases
    assert len(chat.parts) == 6 and all(os.path.isfile(p) for p in chat.parts)
    assert chat.path.endswith(f"{chat.sha256}.gguf") and chat.loop_min_tokens > 0
    assert smollm2.aliases == [] and smollm2.path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert "text-embedding-3-small" in embedding.aliases and os.path.isfile(embedding.tokenizer)
    assert "omni-moderation-latest" in moderation.aliases and os.path.isfile(moderation.weights)
    assert "tts-1" in speech.aliases
    assert "whisper-1" in whisper_base.aliases and all(os.path.isfile(p) for p in whisper_base.parts)
    assert os.path.isfile(os.path.join(whisper_tiny.path, "model.bin"))
    assert [modelconfig.api_of(e) for e in (chat, embedding, moderation, speech, whisper_base)] == [
        "chat", "embeddings", "moderations", "speech", "transcriptions"]


@pytest.mark.parametrize(("text", "message"), [
    ('[[models]]\nid = "a"\nprovider = "nope"\n', "provider"),
    ('[[models]]\nid = "a"\nprovider = "openai"\ntypo = 1\n', "typo"),
    ('[[models]]\nid = "a"\nprovider = "openai"\n[[models]]\nid = "b"\nprovider = "openai"\naliases = ["a"]\n',
     "twice"),
    ('[[models]]\nid = "a"\nprovider = "local"\npath = "package:not_installed_pkg/x.gguf"\n', "not installed"),
    ('[[models]]\nid = "a"\nprovider = "local"\n', "needs a `path` or `parts`"),
    ('[[models]]\nid = "a"\nprovider = "local"\nparts = ["x.bin"]\n', "needs `sha256`"),
    ('[[models]]\nid = "a"\nprovider = "local"\npath = "a.gguf"\nloop_max_period = 0\n', "loop_max_period"),
])
def test_model_config_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(SystemExit, match=message):
        modelconfig.load(write(tmp_path, text))


def test_model_parts_are_joined_once_and_checked(tmp_path):
    import hashlib

    from shared import model_parts

    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"GGUF" + b"a" * 100)
    parts[1].write_bytes(b"b" * 50)
    sha = hashlib.sha256(b"GGUF" + b"a" * 100 + b"b" * 50).hexdigest()
    config = modelconfig.load(write(tmp_path, f"""
[[models]]
id = "a"
provider = "local"
parts = ["p1", "p2"]
sha256 = "{sha}"
cache_dir = "{tmp_path / 'cache'}"
"""))
    [entry] = config.models
    assert entry.path == str(tmp_path / "cache" / f"{sha}.gguf") and not os.path.exists(entry.path)
    target = model_parts.joined(entry.path, entry.parts, entry.sha256)
    assert open(target, "rb").read() == b"GGUF" + b"a" * 100 + b"b" * 50
    parts[1].write_bytes(b"c" * 50)  # a later start reads no part: the joined file stays as it was
    model_parts.joined(entry.path, entry.parts, entry.sha256)
    assert open(target, "rb").read().endswith(b"b" * 50)
    os.unlink(target)  # joined again from changed parts: the hash no longer matches, nothing is kept
    with pytest.raises(SystemExit, match="sha256"):
        model_parts.joined(entry.path, entry.parts, entry.sha256)
    assert os.listdir(tmp_path / "cache") == []


def decode_error(body: bytes) -> errors.ApiError:
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)) as caught:
        msgspec.json.decode(body, type=ChatCompletionRequest)
    return errors.from_validation(caught.value)


def test_validation_errors_name_nested_params():
    err = decode_error(b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}')
    assert (err.status, err.param, err.code) == (400, "messages[0].content[0].text", "missing_required_parameter")
    assert decode_error(b'{"model": "m"}').param == "messages"
    assert decode_error(b'{"model": "m", "messages": [], "n": "x"}').param in ("messages", "n")
    assert decode_error(b"{oops").param is None
