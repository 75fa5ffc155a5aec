"""response_format on the local model: answers parse and validate by construction."""

import json

import jsonschema
import openai
import pydantic
import pytest

from tests.stack import TEST_MODEL

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 30},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "pets": {"type": "array", "items": {"type": "string", "enum": ["cat", "dog", "fish"]}, "maxItems": 3},
    },
    "required": ["name", "age", "pets"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Describe a person as JSON."}]


def json_schema(schema, name="person"):
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def test_json_schema_answers_validate(client):
    for seed in range(3):
        answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, response_format=json_schema(PERSON),
                                                max_tokens=200, seed=seed)
        assert answer.choices[0].finish_reason == "stop"
        jsonschema.validate(json.loads(answer.choices[0].message.content), PERSON)


def test_streamed_json_schema_validates(client):
    stream = client.chat.completions.create(model=TEST_MODEL, messages=ASK, response_format=json_schema(PERSON),
                                            max_tokens=200, stream=True, seed=1)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    jsonschema.validate(json.loads(text), PERSON)


class Pet(pydantic.BaseModel):
    kind: str
    legs: int


class Owner(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=40)
    pets: list[Pet] = pydantic.Field(max_length=3)  # a 135M model may list pets forever otherwise


def test_sdk_parse_with_pydantic(client):
    answer = client.chat.completions.parse(model=TEST_MODEL, messages=[
        {"role": "user", "content": "Invent a pet owner and their pets."}], response_format=Owner, max_tokens=400, seed=7)
    parsed = answer.choices[0].message.parsed
    assert isinstance(parsed, Owner) and all(isinstance(p, Pet) for p in parsed.pets)


def test_json_object(client):
    answer = client.chat.completions.create(model=TEST_MODEL, response_format={"type": "json_object"}, max_tokens=200,
                                            messages=[{"role": "user", "content": "Give me a JSON object about cats."}])
    if answer.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(answer.choices[0].message.content), dict)


def test_json_object_needs_the_word_json(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                       response_format={"type": "json_object"})
    assert caught.value.body["param"] == "messages"


@pytest.mark.parametrize("schema", [
    {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
    {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
    {"type": "string", "pattern": "[a-z]+"},
    {"type": "string", "format": "email"},
    {"type": "object", "not": {"required": ["a"]}},
])
def test_schema_we_cannot_honour_is_400(client, schema):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=ASK, response_format=json_schema(schema))
    assert caught.value.body["param"] == "response_format"
    assert caught.value.body["code"] == "unsupported_schema"


def test_bad_response_format_type_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=ASK, response_format={"type": "xml"})
    assert caught.value.body["param"] == "response_format.type"
