"""/v1/images/generations, /edits and /variations through the edge with the openai SDK, routed to
a real OpenAI-compatible image server on loopback (tests/image_upstream.py); links to stored
images served by Vivian itself."""

import base64
import json
import urllib.parse

import httpx2
import openai
import pytest

from tests.image_upstream import colour_of, png, png_colour, png_size

pytestmark = pytest.mark.usefixtures("images")


def fetch(url: str) -> httpx2.Response:
    return httpx2.get(url, timeout=60)  # no key: the link's signature is the permission


def test_generation_as_links_vivian_serves(client, stack):
    answer = client.images.generate(model="dall-e-2", prompt="a red fox", n=2, size="64x48")
    assert len(answer.data) == 2 and isinstance(answer.created, int)
    for image in answer.data:
        assert image.url.startswith(f"http://127.0.0.1:{stack.port}/v1/images/content/img_")
        assert image.b64_json is None
        for _ in range(2):  # the upstream's own link worked once; ours keeps working until it expires
            got = fetch(image.url)
            assert got.status_code == 200 and got.headers["content-type"] == "image/png"
            assert png_size(got.content) == (64, 48) and png_colour(got.content) == colour_of(b"a red fox")
    seen = stack.image_upstream.seen[-1]
    assert seen.path == "/v1/images/generations" and seen.headers["Authorization"] == "Bearer sk-image-upstream"
    assert seen.json == {"model": "painter", "prompt": "a red fox", "n": 2, "size": "64x48"}


def test_every_field_goes_upstream_and_b64_comes_back(client, stack):
    answer = client.images.generate(model="gpt-image-1", prompt="a blue whale", response_format="b64_json",
                                    quality="hd", style="vivid", user="u-1", extra_body={"not_in_the_spec": [1]})
    image = base64.b64decode(answer.data[0].b64_json)
    assert png_colour(image) == colour_of(b"a blue whale") and answer.data[0].url is None
    assert answer.data[0].revised_prompt == "as asked"
    assert stack.image_upstream.seen[-1].json == {
        "model": "painter", "prompt": "a blue whale", "response_format": "b64_json", "quality": "hd",
        "style": "vivid", "user": "u-1", "not_in_the_spec": [1]}


def test_a_tampered_or_incomplete_link_is_refused(client):
    url = client.images.generate(model="dall-e-2", prompt="a green frog", size="8x8").data[0].url
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    later = urllib.parse.urlencode({**query, "expires": int(query["expires"]) + 3600})
    refused = fetch(urllib.parse.urlunsplit(parts._replace(query=later)))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_signature"
    bare = fetch(urllib.parse.urlunsplit(parts._replace(query="")))
    assert bare.status_code == 403 and bare.json()["error"]["param"] == "expires"
    other = fetch(url.replace("/img_", "/img_0"))
    assert other.status_code == 403


def test_edit_sends_the_images_and_mask_upstream(client, stack):
    photo, mask = png(16, 16, (10, 20, 30)), png(16, 16, (0, 0, 0))
    answer = client.images.edit(model="dall-e-2", image=("photo.png", photo, "image/png"),
                                mask=("mask.png", mask, "image/png"), prompt="add a hat", n=1, size="16x16",
                                response_format="b64_json")
    assert png_colour(base64.b64decode(answer.data[0].b64_json)) == colour_of(photo + b"add a hat")
    seen = stack.image_upstream.seen[-1]
    assert seen.path == "/v1/images/edits"
    assert sorted(seen.fields) == sorted([("model", "painter"), ("prompt", "add a hat"), ("n", "1"),
                                          ("size", "16x16"), ("response_format", "b64_json")])
    assert [(f, name, data) for f, name, data in seen.files] == [("image", "photo.png", photo),
                                                                  ("mask", "mask.png", mask)]


def test_edit_with_several_images(client, stack):
    first, second = png(4, 4, (1, 2, 3)), png(4, 4, (4, 5, 6))
    answer = client.images.edit(model="gpt-image-1", image=[("a.png", first, "image/png"),
                                                              ("b.png", second, "image/png")], prompt="merge")
    assert answer.data[0].url  # the upstream answered with its link, so the answer links here
    assert fetch(answer.data[0].url).status_code == 200
    assert [(f, data) for f, _, data in stack.image_upstream.seen[-1].files] == [("image[]", first),
                                                                                  ("image[]", second)]


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks variations deprecated
def test_variation(client, stack):
    source = png(8, 8, (200, 100, 50))
    answer = client.images.create_variation(model="dall-e-2", image=("cat.png", source, "image/png"), n=1,
                                            size="12x12")
    got = fetch(answer.data[0].url)
    assert png_size(got.content) == (12, 12) and png_colour(got.content) == colour_of(source)
    assert stack.image_upstream.seen[-1].path == "/v1/images/variations"


def test_streamed_partial_images(client):
    events = list(client.images.generate(model="gpt-image-1", prompt="a lighthouse", stream=True, partial_images=2))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert png_colour(base64.b64decode(events[-1].b64_json)) == colour_of(b"a lighthouse")


@pytest.mark.parametrize("stream", ["true", "True", "1"])
def test_streamed_edit_for_every_form_of_true(stack, stream):
    """A form's `stream` is typed once, at the edge, for the edge and the service alike: "True" (what
    Python's requests sends for True) streams as "true" does."""
    answer = httpx2.post(f"{stack.base_url}/images/edits", headers={"Authorization": f"Bearer {stack.key}"},
                         files={"image": ("p.png", png(4, 4, (7, 8, 9)), "image/png")},
                         data={"model": "gpt-image-1", "prompt": "a hat", "stream": stream, "partial_images": "1"},
                         timeout=120)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in answer.text.splitlines() if line.startswith("data: ")]
    assert [json.loads(e)["type"] for e in events[:-1]] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1] == "[DONE]"


def test_upstream_errors_keep_their_status_and_shape(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-2", prompt="please refuse this")
    assert caught.value.body["code"] == "content_policy_violation" and caught.value.body["param"] == "prompt"
    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(model="images-unreachable", prompt="anything")
    assert caught.value.status_code == 502 and caught.value.body["code"] == "upstream_unreachable"


def test_models_that_cannot_draw_are_named(client):
    for model in ("gpt-4", "no-such-painter"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.images.generate(model=model, prompt="a cat")
        assert caught.value.body["param"] == "model" and caught.value.body["code"] == "model_not_found"
        assert "dall-e-2, gpt-image-1, images-unreachable" in caught.value.body["message"]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "dall-e-2"}, "prompt"),
    ({"model": "dall-e-2", "prompt": ""}, "prompt"),
    ({"model": "dall-e-2", "prompt": "x", "n": 11}, "n"),
    ({"model": "dall-e-2", "prompt": "x", "n": "two"}, "n"),
    ({"model": "dall-e-2", "prompt": "x", "response_format": "gif"}, "response_format"),
])
def test_bad_generation_requests(client, body, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/images/generations", body=body, cast_to=object)
    assert caught.value.body["param"] == param


def _form(stack, path: str, files: dict, data: dict) -> httpx2.Response:
    return httpx2.post(f"{stack.base_url}{path}", headers={"Authorization": f"Bearer {stack.key}"}, files=files,
                       data=data, timeout=60)


def test_bad_edit_and_variation_forms(stack, client):
    image = ("a.png", png(2, 2, (9, 9, 9)), "image/png")
    cases = [
        ("/images/edits", {}, {"prompt": "x"}, "image"),
        ("/images/edits", {"image": image}, {}, "prompt"),
        ("/images/edits", {"image": image}, {"prompt": "x", "n": "zero"}, "n"),
        ("/images/variations", {"image": ("e.png", b"", "image/png")}, {}, "image"),
        ("/images/variations", {"image": image}, {"response_format": "svg"}, "response_format"),
    ]
    for path, files, data, param in cases:
        answer = _form(stack, path, files, data)
        assert answer.status_code == 400, (path, data, answer.text)
        assert answer.json()["error"]["param"] == param, (path, data, answer.text)
    json_body = httpx2.post(f"{stack.base_url}/images/edits", headers={"Authorization": f"Bearer {stack.key}"},
                            json={"prompt": "x"}, timeout=60)
    assert json_body.status_code == 400 and json_body.json()["error"]["param"] == "image"
    # and the service keeps serving
    assert client.images.generate(model="dall-e-2", prompt="still here", size="2x2").data[0].url


def test_edit_inputs_do_not_linger(stack, images, s3_store):
    from minio import Minio

    client = Minio(urllib.parse.urlsplit(s3_store.endpoint).netloc, access_key=s3_store.access_key,
                   secret_key=s3_store.secret_key, secure=False)
    image = ("a.png", png(2, 2, (9, 9, 9)), "image/png")
    assert _form(stack, "/images/edits", {"image": image}, {"prompt": "x", "response_format": "b64_json"}).status_code == 200
    assert _form(stack, "/images/edits", {"image": image}, {"prompt": "x", "n": "zero"}).status_code == 400
    left = [o.object_name for o in client.list_objects(images["VIVIAN_S3_BUCKET"], prefix="images/inputs/",
                                                        recursive=True)]
    assert left == []
