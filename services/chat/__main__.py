"""`python -m services.chat`: serve the configured chat models on the bus until SIGINT/SIGTERM."""

from services.bus_service import run_model_service
from services.chat.registry import Registry
from services.chat.service import ChatService

if __name__ == "__main__":
    run_model_service(
        "chat",
        make_registry=lambda config, tracing: Registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing, settings: ChatService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing))
