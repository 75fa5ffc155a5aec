"""POST /v1/moderations on the local toxicity classifier, through the edge, with the openai SDK."""

import openai
import pytest

from shared.protocol.moderations import CATEGORIES


def test_answer_has_openai_shape(client):
    answer = client.moderations.create(input="I love sunny days.")
    assert answer.id.startswith("modr-") and answer.model == "omni-moderation-latest"
    [result] = answer.results
    raw = result.model_dump(by_alias=True)
    for field in ("categories", "category_scores", "category_applied_input_types"):
        assert set(raw[field]) == set(CATEGORIES)
    assert result.flagged is False and max(raw["category_scores"].values()) < 0.1


def test_insults_and_threats_are_flagged(client):
    answer = client.moderations.create(model="text-moderation-latest", input=[
        "You are a stupid idiot.", "Go back to your country, you dirty immigrant.", "Have a nice day!"])
    insult, hateful, kind = (r.model_dump(by_alias=True) for r in answer.results)
    assert insult["flagged"] and insult["categories"]["harassment"]
    assert hateful["category_scores"]["hate"] > kind["category_scores"]["hate"]
    assert not kind["flagged"]
    # What this model cannot see always scores 0.
    assert insult["category_scores"]["sexual/minors"] == 0 and insult["category_scores"]["self-harm"] == 0


def test_parts_input_scores_the_text(client):
    answer = client.moderations.create(model="omni-moderation-latest", input=[
        {"type": "text", "text": "You are a stupid idiot."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}])
    [result] = answer.results
    raw = result.model_dump(by_alias=True)
    assert result.flagged and raw["category_applied_input_types"]["harassment"] == ["text"]


@pytest.mark.parametrize(("body", "param"), [({"input": 5}, "input"), ({"input": []}, "input"),
                                              ({"input": ["a", {"type": "text", "text": "b"}]}, "input")])
def test_bad_input_is_400(client, body, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/moderations", body=body, cast_to=object)
    assert caught.value.body["param"] == param


def test_upstream_routing_relays_an_openai_compatible_server(client):
    """`relay-moderations` goes through the `openai` provider to this stack's own edge."""
    local = client.moderations.create(model="toxic-bilstm", input="You are a stupid idiot.").results[0]
    relayed = client.moderations.create(model="relay-moderations", input="You are a stupid idiot.")
    assert relayed.model == "toxic-bilstm"  # the upstream's answer, untouched
    assert relayed.results[0].category_scores == local.category_scores and relayed.results[0].flagged
    with pytest.raises(openai.BadRequestError) as caught:  # upstream validation, relayed with its param
        client.moderations.create(model="relay-moderations", input=[])
    assert caught.value.body["param"] == "input"


def test_a_model_of_the_other_api_is_not_found(client):
    """The embeddings service serves both APIs: each answers only with its own models."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.moderations.create(model="text-embedding-3-small", input="hi")
    assert caught.value.body["code"] == "model_not_found" and "/v1/moderations" in caught.value.body["message"]
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="omni-moderation-latest", input="hi")
    assert caught.value.body["code"] == "model_not_found" and "/v1/embeddings" in caught.value.body["message"]
