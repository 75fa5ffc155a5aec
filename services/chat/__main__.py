"""`python -m services.chat`: serve the configured chat models on the bus until SIGINT/SIGTERM."""

from services.chat.registry import Registry
from services.chat.service import ChatService
from services.chat.settings import ChatSettings
from services.chat.stored_completions import CompletionStore
from services.kit import main

if __name__ == "__main__":
    main.run("chat", ChatSettings, main.model_parts(
        lambda config, tracing: Registry(config, tracer_provider=tracing),
        lambda nc, registry, tracing, settings: ChatService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing,
            store=CompletionStore(settings.mongo_url, page_budget=main.page_budget(nc)))))
