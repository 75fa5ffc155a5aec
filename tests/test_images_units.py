"""The images service's parts on their own: answers put the way the client asked, signed links,
and what a model config with no image model says."""

import asyncio
import base64
import json

import pytest

from services.images import results
from services.images.links import Links
from services.images.service import _no_model
from shared import errors
from shared.protocol.images import ImageContentRequest
from tests.image_upstream import png


def settle(answer: dict, wanted: str | None, fetched: bytes = b"") -> tuple[dict, dict]:
    stored: dict[str, tuple[bytes, str]] = {}

    async def store(image_id: str, data: bytes, content_type: str) -> None:
        stored[image_id] = (data, content_type)

    async def fetch(url: str) -> bytes:
        return fetched

    out = asyncio.run(results.settle(json.dumps(answer).encode(), wanted=wanted, store=store, fetch=fetch,
                                     link=lambda image_id: f"https://here/{image_id}"))
    return json.loads(out), stored


def test_inline_images_become_links_when_asked():
    image = png(3, 3, (1, 2, 3))
    out, stored = settle({"created": 1, "data": [{"b64_json": base64.b64encode(image).decode()}],
                          "usage": {"total_tokens": 1}}, "url")
    (image_id, (data, content_type)), = stored.items()
    assert out == {"created": 1, "data": [{"url": f"https://here/{image_id}"}], "usage": {"total_tokens": 1}}
    assert data == image and content_type == "image/png" and image_id.endswith(".png")


def test_links_become_inline_when_asked_and_inline_stays_when_not_asked():
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    out, stored = settle({"created": 1, "data": [{"url": "http://upstream/x"}]}, "b64_json", fetched=jpeg)
    assert out["data"] == [{"b64_json": base64.b64encode(jpeg).decode()}] and stored == {}
    kept, stored = settle({"created": 1, "data": [{"b64_json": "AAAA"}]}, None)
    assert kept["data"] == [{"b64_json": "AAAA"}] and stored == {}


def test_what_is_not_an_image_is_a_502():
    with pytest.raises(errors.ApiError) as caught:
        settle({"created": 1, "data": [{"url": "http://upstream/x"}]}, None, fetched=b"<html>")
    assert caught.value.status == 502 and caught.value.code == "upstream_bad_image"


def _asked(url: str) -> ImageContentRequest:
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    return ImageContentRequest(id=url.split("?")[0].rsplit("/", 1)[1], expires=int(query["expires"]),
                               signature=query["signature"])


def test_links_work_until_they_expire():
    Links(b"k", ttl=60).check(_asked(Links(b"k", ttl=60).make("http://edge", "img_1.png")))
    with pytest.raises(errors.ApiError) as caught:
        Links(b"k", ttl=-1).check(_asked(Links(b"k", ttl=-1).make("http://edge", "img_1.png")))
    assert (caught.value.status, caught.value.code) == (403, "link_expired")
    with pytest.raises(errors.ApiError) as caught:  # another key signed it
        Links(b"other", ttl=60).check(_asked(Links(b"k", ttl=60).make("http://edge", "img_1.png")))
    assert caught.value.code == "invalid_signature"


def test_with_no_image_model_the_error_says_how_to_add_one():
    err = _no_model(None, [])
    assert err.status == 404 and err.param == "model" and 'api = "images"' in err.message
