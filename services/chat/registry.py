"""The chat service's models: local llama.cpp models and OpenAI-compatible upstreams."""

from typing import NamedTuple

from opentelemetry.trace import TracerProvider

from services.chat.providers.base import ChatProvider
from services.chat.providers.local_llama import LocalLlama
from services.chat.providers.openai_compat import OpenAICompat
from shared import errors, registry, telemetry
from shared.modelconfig import LocalModel, ModelConfig, ModelEntry, OpenAIModel
from shared.protocol.models import Model, ModelList

# The chat providers, by the model config's `provider` tag.
PROVIDERS = {"local": LocalLlama, "openai": OpenAICompat}


class Tuned(NamedTuple):
    entry: ModelEntry
    provider: ChatProvider
    model: Model


class Registry(registry.Registry[ChatProvider]):
    def __init__(self, config: ModelConfig, *, tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(config, apis={"chat"}, providers=PROVIDERS,
                         tracer=telemetry.tracer(tracer_provider, "vivian.chat"))
        # tuned model id → project → what serves it: tuned models are per project, so two projects'
        # models of one name (a model tuned upstream, mirrored by its own Vivian) never meet.
        self._tuned: dict[str, dict[str, Tuned]] = {}
        # tuned model id → a project it is shared with (checkpoint permissions) → the owning project.
        self._shared: dict[str, dict[str, str]] = {}

    def _find(self, name: str, project: str | None) -> Tuned | None:
        """The tuned model `name` as `project` sees it: its own, or one shared with it."""
        tuned = self._tuned.get(name)
        if not tuned or project is None:
            return None
        if project in tuned:
            return tuned[project]
        owner = self._shared.get(name, {}).get(project)
        return tuned.get(owner) if owner is not None else None

    def provider(self, name: str, endpoint: str = "/v1/chat/completions", project: str | None = None) -> ChatProvider:
        if (tuned := self._find(name, project)) is not None:
            return tuned.provider
        return super().provider(name, endpoint)

    def model(self, name: str, project: str | None = None) -> Model:
        if (tuned := self._find(name, project)) is not None:
            return tuned.model
        return super().model(name)

    def visible(self, project: str) -> ModelList:
        """The models a key of `project` may list: every configured one, and the tuned ones that are
        its own or shared with it."""
        if not self._tuned:
            return self.models
        tuned = [t.model for name in self._tuned if (t := self._find(name, project)) is not None]
        return ModelList(data=[*self.models.data, *tuned])

    def check_access(self, name: str, project: str) -> None:
        """A tuned model of another project, not shared with this one, does not exist, as far as
        this project can tell."""
        if name in self._tuned and self._find(name, project) is None and name not in self._by_name:
            raise errors.model_not_found(name)

    def check_responses_api(self, name: str) -> None:
        """Only a model whose upstream has the Responses API takes a Responses request as it is;
        the responses service translates for any other (`errors.NOT_RESPONSES_API`)."""
        entry = self._by_name.get(name)
        if not (isinstance(entry, OpenAIModel) and entry.responses_api):
            raise errors.invalid_request(f"The model `{name}` has no upstream with the Responses API.",
                                         param="model", code=errors.NOT_RESPONSES_API)

    def local_entry(self, model_id: str) -> LocalModel | None:
        entry = self._by_name.get(model_id)
        return entry if isinstance(entry, LocalModel) else None

    def add(self, entry: ModelEntry, provider: ChatProvider, *, project: str) -> None:
        """Serve one more model (a fine-tuned one, for `project` only) from now on; its provider is
        started."""
        model = Model(id=entry.id, created=entry.created, owned_by=entry.owned_by)
        self._tuned.setdefault(entry.id, {})[project] = Tuned(entry, provider, model)

    def remove(self, model_id: str, project: str) -> ChatProvider | None:
        """Stop serving a model added by `add`; its provider is returned for closing."""
        tuned = self._tuned.get(model_id, {}).pop(project, None)
        if model_id in self._tuned and not self._tuned[model_id]:
            del self._tuned[model_id]
        self.share(model_id, project, [])
        return tuned.provider if tuned else None

    def share(self, model_id: str, owner: str, projects: list[str]) -> None:
        """From now on, `owner`'s tuned model `model_id` is also served to `projects` (and only them)."""
        shared = self._shared.setdefault(model_id, {})
        for project in [p for p, o in shared.items() if o == owner]:
            del shared[project]
        for project in projects:
            if project != owner:
                shared[project] = owner
        if not shared:
            del self._shared[model_id]
