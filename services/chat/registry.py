"""Public model ids and aliases → the provider instance serving them."""

from services.chat.providers.base import ChatProvider
from services.chat.providers.local_llama import LocalLlama
from services.chat.providers.openai_compat import OpenAICompat
from shared import errors
from shared.modelconfig import LocalModel, ModelConfig, ModelEntry, OpenAIModel
from shared.protocol.models import Model, ModelList


def make_provider(entry: ModelEntry) -> ChatProvider:
    match entry:
        case LocalModel():
            return LocalLlama(entry)
        case OpenAIModel():
            return OpenAICompat(entry)
    raise TypeError(f"no provider for {entry!r}")


class Registry:
    def __init__(self, config: ModelConfig) -> None:
        self._providers = {entry.id: make_provider(entry) for entry in config.models}
        self._by_name: dict[str, ModelEntry] = {}
        models = []
        for entry in config.models:
            for name in (entry.id, *entry.aliases):
                self._by_name[name] = entry
                models.append(Model(id=name, created=entry.created, owned_by=entry.owned_by))
        self.models = ModelList(data=models)
        self._models = {m.id: m for m in models}

    async def start(self) -> None:
        for provider in self._providers.values():
            await provider.start()

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()

    def provider(self, name: str) -> ChatProvider:
        entry = self._by_name.get(name)
        if entry is None:
            raise errors.model_not_found(name)
        return self._providers[entry.id]

    def model(self, name: str) -> Model:
        try:
            return self._models[name]
        except KeyError:
            raise errors.model_not_found(name) from None
