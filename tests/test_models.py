"""GET /v1/models and /v1/models/{id}: OpenAI's model objects, from the model config file."""

import openai
import pytest

from tests.stack import TEST_MODEL


def test_list_has_every_id_and_alias(client):
    models = {m.id: m for m in client.models.list()}
    assert {TEST_MODEL, "gpt-4", "relay-smollm2"} <= set(models)
    assert all(m.object == "model" and isinstance(m.created, int) and m.owned_by for m in models.values())
    assert models["gpt-4"].created == 1730419200


def test_retrieve(client):
    model = client.models.retrieve("gpt-4")
    assert (model.id, model.object, model.owned_by) == ("gpt-4", "model", "vivian")


def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.status_code == 404
    assert caught.value.body == {
        "message": "The model `no-such-model` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}
