"""Fine-tuned models, served as they appear: the jobs service puts each tuned model's entry in the
KV bucket `FINE_TUNED_BUCKET` and its LoRA adapter (GGUF) in the object store `ADAPTERS_BUCKET`;
every chat replica watches the bucket, fetches the adapter and loads base model + adapter
(llama.cpp applies the adapter at scale 1). A model tuned on an upstream has no adapter: it is
routed to that upstream by an `openai` provider. Both are built by the registry's provider table,
as configured models are. A deleted entry stops being served. An entry serves its own project's
keys and those of the projects in its `shared_with` (checkpoint permissions); a change of only
that list is applied without reloading the model."""

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

import msgspec
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE

from services.chat.registry import Registry
from shared.modelconfig import LocalModel, OpenAIModel
from shared.protocol.fine_tuning import FineTunedModel
from shared.tuned_model_buckets import buckets

log = logging.getLogger("chat")
_decode = msgspec.json.Decoder(FineTunedModel).decode


class FineTunedModels:
    def __init__(self, registry: Registry, js: JetStreamContext) -> None:
        self._registry, self._js = registry, js
        self._dir = Path(tempfile.mkdtemp(prefix="vivian-adapters-"))
        self._ids: dict[str, tuple[str, str]] = {}  # KV key (job id) → (model id, project)
        self._entries: dict[str, FineTunedModel] = {}  # KV key → the entry served
        self._task: asyncio.Task | None = None
        self._watcher = None
        self._store = None

    async def start(self) -> None:
        kv, self._store = await buckets(self._js)
        self._watcher = await kv.watchall()
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._watcher is not None:
            await self._watcher.stop()
        for key in list(self._ids):
            await self._remove(key)
        shutil.rmtree(self._dir, ignore_errors=True)

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the initial values are in
                continue
            try:
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    await self._remove(entry.key)
                else:
                    await self._add(entry.key, _decode(entry.value))
            except Exception:
                log.exception("could not serve the fine-tuned model of %s", entry.key)

    async def _add(self, key: str, model: FineTunedModel) -> None:
        served = self._entries.get(key)
        if served is not None and key in self._ids and msgspec.structs.replace(
                model, shared_with=served.shared_with) == served:
            self._registry.share(model.id, model.project, model.shared_with)  # only who may use it changed
            self._entries[key] = model
            return
        if model.upstream is not None:
            await self._add_upstream(key, model)
        else:
            await self._add_local(key, model)
        if key in self._ids:
            self._registry.share(model.id, model.project, model.shared_with)
            self._entries[key] = model

    async def _add_local(self, key: str, model: FineTunedModel) -> None:
        base = self._registry.local_entry(model.base)
        if base is None:
            log.warning("fine-tuned model %s: base %s is not a local model here; not served", model.id, model.base)
            return
        await self._remove(key)
        path = self._dir / model.adapter
        result = await self._store.get(model.adapter)
        path.write_bytes(result.data)
        entry = LocalModel(id=model.id, owned_by=model.owned_by, created=model.created, path=base.path,
                           context_length=base.context_length, parallel=base.parallel, threads=base.threads)
        provider = self._registry.make(entry, adapter=str(path))
        await provider.start()
        self._registry.add(entry, provider, project=model.project)
        self._ids[key] = (model.id, model.project)
        log.info("serving fine-tuned model %s", model.id)

    async def _add_upstream(self, key: str, model: FineTunedModel) -> None:
        """A model tuned upstream: routed there, under its upstream name, with the base's key."""
        await self._remove(key)
        up = model.upstream
        entry = OpenAIModel(id=model.id, owned_by=model.owned_by, created=model.created, base_url=up.base_url,
                            api_key_env=up.api_key_env, upstream_model=up.upstream_model, timeout=up.timeout)
        provider = self._registry.make(entry)
        await provider.start()
        self._registry.add(entry, provider, project=model.project)
        self._ids[key] = (model.id, model.project)
        log.info("serving fine-tuned model %s from %s", model.id, up.base_url)

    async def _remove(self, key: str) -> None:
        self._entries.pop(key, None)
        found = self._ids.pop(key, None)
        if found is None:
            return
        provider = self._registry.remove(*found)
        if provider is not None:
            await provider.close()
