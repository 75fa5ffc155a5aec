"""`python -m services.chat`: serve the configured chat models on the bus until SIGINT/SIGTERM."""

from services.bus_service import serve_models
from services.chat.registry import Registry
from services.chat.service import ChatService
from services.chat.settings import ChatSettings
from shared.settings import from_env


def run() -> None:
    import uvloop

    settings = from_env(ChatSettings)
    uvloop.run(serve_models(
        "chat", settings,
        make_registry=lambda config, tracing: Registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing: ChatService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))


if __name__ == "__main__":
    run()
