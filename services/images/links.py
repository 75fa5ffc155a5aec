"""Links to generated images that Vivian serves itself, signed and expiring like OpenAI's.

`GET /v1/images/content/{id}?expires=<unix time>&signature=<hex>` needs no API key: the signature
(HMAC-SHA256 of the id and the expiry, under a key only the images service holds) is the permission,
and it stops working at `expires`. The image itself stays in the object store until the sweep
removes it, a little after the last link to it can have expired.
"""

import hashlib
import hmac
import time
import urllib.parse

from shared import errors
from shared.protocol.images import ImageContentRequest

PATH = "/v1/images/content/"


class Links:
    def __init__(self, key: bytes, *, ttl: float) -> None:
        self._key = key
        self.ttl = ttl

    @classmethod
    def from_settings(cls, signing_key: str, s3_secret_key: str, *, ttl: float) -> "Links":
        if signing_key:
            return cls(signing_key.encode(), ttl=ttl)
        if not s3_secret_key:
            raise SystemExit("images: set VIVIAN_IMAGE_SIGNING_KEY (or VIVIAN_S3_SECRET_KEY, which it is derived from)")
        return cls(hmac.new(s3_secret_key.encode(), b"vivian image links", hashlib.sha256).digest(), ttl=ttl)

    def _sign(self, image_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{image_id}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def make(self, origin: str, image_id: str) -> str:
        expires = int(time.time() + self.ttl)
        query = urllib.parse.urlencode({"expires": expires, "signature": self._sign(image_id, expires)})
        return f"{origin.rstrip('/')}{PATH}{image_id}?{query}"

    def check(self, request: ImageContentRequest) -> None:
        if not hmac.compare_digest(self._sign(request.id, request.expires), request.signature):
            raise errors.ApiError(403, "This image link's signature is not valid.", param="signature",
                                  code="invalid_signature")
        if time.time() > request.expires:
            raise errors.ApiError(403, "This image link has expired; generate the image again.",
                                  param="expires", code="link_expired")
