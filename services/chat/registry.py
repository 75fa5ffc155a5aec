"""The chat service's models: local llama.cpp models and OpenAI-compatible upstreams."""

from opentelemetry.trace import Tracer, TracerProvider

from services.chat.providers.base import ChatProvider
from services.chat.providers.local_llama import LocalLlama
from services.chat.providers.openai_compat import OpenAICompat
from shared import errors, registry, telemetry
from shared.modelconfig import LocalModel, ModelConfig, ModelEntry, OpenAIModel
from shared.protocol.models import Model, ModelList


def make_provider(entry: ModelEntry, tracer: Tracer | None = None) -> ChatProvider:
    match entry:
        case LocalModel():
            return LocalLlama(entry)
        case OpenAIModel():
            return OpenAICompat(entry, tracer=tracer)
    raise TypeError(f"no chat provider for {entry!r}")


class Registry(registry.Registry[ChatProvider]):
    def __init__(self, config: ModelConfig, *, tracer_provider: TracerProvider | None = None) -> None:
        tracer = telemetry.tracer(tracer_provider, "vivian.chat")
        super().__init__(config, apis={"chat"}, make_provider=lambda entry: make_provider(entry, tracer))
        self._owners: dict[str, str] = {}  # tuned model id → the project it belongs to

    def provider(self, name: str, endpoint: str = "/v1/chat/completions") -> ChatProvider:
        return super().provider(name, endpoint)

    def visible(self, project: str) -> ModelList:
        """The models a key of `project` may list: every configured one, and its own tuned ones."""
        if not self._owners:
            return self.models
        return ModelList(data=[m for m in self.models.data if self._owners.get(m.id, project) == project])

    def check_access(self, name: str, project: str) -> None:
        """A tuned model of another project does not exist, as far as this project can tell."""
        if self._owners.get(name, project) != project:
            raise errors.model_not_found(name)

    def local_entry(self, model_id: str) -> LocalModel | None:
        entry = self._by_name.get(model_id)
        return entry if isinstance(entry, LocalModel) else None

    def add(self, entry: LocalModel, provider: ChatProvider, *, project: str) -> None:
        """Serve one more model (a fine-tuned one, for `project` only) from now on; its provider is
        started."""
        self._owners[entry.id] = project
        self._providers[entry.id] = provider
        self._by_name[entry.id] = entry
        model = Model(id=entry.id, created=entry.created, owned_by=entry.owned_by)
        self.models.data.append(model)
        self._models[entry.id] = model

    def remove(self, model_id: str) -> ChatProvider | None:
        """Stop listing a model added by `add`; its provider is returned for closing."""
        self._by_name.pop(model_id, None)
        self._models.pop(model_id, None)
        self._owners.pop(model_id, None)
        self.models.data[:] = [m for m in self.models.data if m.id != model_id]
        return self._providers.pop(model_id, None)
