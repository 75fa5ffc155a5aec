"""`python -m services.chat`: serve the configured chat models on the bus until SIGINT/SIGTERM."""

from services.kit.service import run_model_service
from services.chat.registry import Registry
from services.chat.service import ChatService
from services.chat.settings import ChatSettings
from services.chat.stored import CompletionStore

# Room left in a bus message around a list page (the answer's frame and headers).
PAGE_MARGIN = 64 * 1024

if __name__ == "__main__":
    run_model_service(
        "chat",
        make_registry=lambda config, tracing: Registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing, settings: ChatService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing,
            store=CompletionStore(settings.mongo_url, page_budget=max(nc.max_payload - PAGE_MARGIN, 16 * 1024))),
        settings_type=ChatSettings)
