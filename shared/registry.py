"""Public model ids and aliases → the entry of the model config and the provider serving it.

Each service keeps a registry of the models of its API (chat, embeddings, moderations); every
registry knows every model, so it can tell "no such model" from "not a model for this endpoint".

A service's providers come from its table, keyed by the config's provider tag:
`{"local": LocalLlama, "openai": OpenAICompat}`. Each is built as `Provider(entry, tracer=…)`: an
upstream provider makes its calls client spans; a local one has no calls of its own to trace (the
service's span covers its work).
"""

from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from opentelemetry.trace import Tracer

from shared import errors
from shared.modelconfig import ModelConfig, ModelEntry, api_of, provider_of
from shared.protocol.models import Model, ModelList


class Provider(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


P = TypeVar("P", bound=Provider)


class Registry(Generic[P]):
    def __init__(self, config: ModelConfig, *, apis: set[str], providers: Mapping[str, Callable[..., P]],
                 tracer: Tracer | None = None) -> None:
        self._table, self._tracer = providers, tracer
        self._providers = {e.id: self.make(e) for e in config.models if api_of(e) in apis}
        self._by_name = {name: entry for entry in config.models for name in (entry.id, *entry.aliases)}
        self.models = ModelList(data=[Model(id=name, created=entry.created, owned_by=entry.owned_by)
                                      for name, entry in self._by_name.items()])
        self._models = {m.id: m for m in self.models.data}

    def make(self, entry: ModelEntry, **options) -> P:
        """A new provider for `entry` (not started), from the table by its provider tag; `options`
        are the provider's own (a tuned local model's adapter)."""
        try:
            make = self._table[provider_of(entry)]
        except KeyError:
            raise TypeError(f"no {api_of(entry)} provider for provider = {provider_of(entry)!r}") from None
        return make(entry, tracer=self._tracer, **options)

    async def start(self) -> None:
        for provider in self._providers.values():
            await provider.start()

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()

    def serving(self) -> list[str]:
        """The ids and aliases of the models this registry has providers for, in config order."""
        return [name for name, entry in self._by_name.items() if entry.id in self._providers]

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._by_name[name]
        except KeyError:
            raise errors.model_not_found(name) from None

    def provider(self, name: str, endpoint: str, *, apis: set[str] | None = None) -> P:
        """The provider for `name` on `endpoint` (e.g. `/v1/embeddings`, for the error message);
        `apis`: the model APIs that serve `endpoint`, where this registry serves more than one."""
        entry = self.entry(name)
        if entry.id not in self._providers or (apis is not None and api_of(entry) not in apis):
            raise errors.ApiError(404, f"The model `{name}` is a {api_of(entry)} model and is not supported on "
                                  f"{endpoint}.", code="model_not_found")
        return self._providers[entry.id]

    def model(self, name: str) -> Model:
        try:
            return self._models[name]
        except KeyError:
            raise errors.model_not_found(name) from None
