"""The chat service's settings: a model service's (services/kit/main.py), and where stored
completions live."""

from services.kit.main import ModelServiceSettings


class ChatSettings(ModelServiceSettings, kw_only=True):
    # MongoDB for stored chat completions (`store: true`); empty: nothing is stored.
    mongo_url: str = ""
