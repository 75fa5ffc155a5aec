"""The object store: any S3 API through the `minio` client (SeaweedFS's S3 gateway locally and in
compose; MinIO or AWS S3 by settings).

The minio client is synchronous (urllib3, thread-safe): every call that goes over the network runs
in a worker thread so the event loop keeps serving. Presigning is local computation (the region is
given, so minio never asks the server for it).

Multipart uploads use minio's low-level `_create_multipart_upload` & co.: the public API only
uploads from a local stream, and here the bytes go from the edge straight to the store on
presigned part URLs (see `services/files/staging.py`).
"""

import asyncio
import datetime
import hashlib
import io
import urllib.parse
from collections.abc import Callable, Iterator

import urllib3
from minio import Minio
from minio.commonconfig import ComposeSource
from minio.datatypes import Part
from minio.error import S3Error, ServerError

_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part but the last
READ_BYTES = 1024 * 1024  # what a scan or a copy holds of an object at a time

Inspect = Callable[[bytes], None]


class ObjectStore:
    def __init__(self, *, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "us-east-1") -> None:
        url = urllib.parse.urlsplit(endpoint)
        self._client = Minio(url.netloc, access_key=access_key or None, secret_key=secret_key or None,
                             secure=url.scheme == "https", region=region)
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings) -> "ObjectStore":
        """From a service's `s3_*` settings (files, images)."""
        return cls(endpoint=settings.s3_endpoint, access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                   bucket=settings.s3_bucket, region=settings.s3_region)

    async def ensure_bucket(self, *, timeout: float = 60.0) -> None:
        """Make the bucket if it is missing; wait for a store that is still starting (in compose it
        may come up after us). Wrong credentials fail at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                if not await asyncio.to_thread(self._client.bucket_exists, self.bucket):
                    await asyncio.to_thread(self._client.make_bucket, self.bucket)
                return
            except S3Error as err:
                if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):  # another replica made it
                    raise
                return
            except (OSError, urllib3.exceptions.HTTPError, ServerError):  # not up yet, or still starting
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ presigned URLs

    def put_url(self, key: str, *, expires: float) -> str:
        return self._client.get_presigned_url("PUT", self.bucket, key, expires=_ttl(expires))

    def get_url(self, key: str, *, expires: float) -> str:
        return self._client.get_presigned_url("GET", self.bucket, key, expires=_ttl(expires))

    def part_url(self, key: str, multipart: str, number: int, *, expires: float) -> str:
        return self._client.get_presigned_url("PUT", self.bucket, key, expires=_ttl(expires),
                                              extra_query_params={"partNumber": str(number), "uploadId": multipart})

    # ------------------------------------------------------------------ multipart uploads

    async def start_multipart(self, key: str) -> str:
        return await asyncio.to_thread(self._client._create_multipart_upload, self.bucket, key,
                                       {"Content-Type": "application/octet-stream"})

    async def finish_multipart(self, key: str, multipart: str, etags: list[str]) -> None:
        parts = [Part(number, etag) for number, etag in enumerate(etags, start=1)]
        await asyncio.to_thread(self._client._complete_multipart_upload, self.bucket, key, multipart, parts)

    async def abort_multipart(self, key: str, multipart: str) -> None:
        try:
            await asyncio.to_thread(self._client._abort_multipart_upload, self.bucket, key, multipart)
        except S3Error as err:
            if err.code != "NoSuchUpload":
                raise

    async def stale_multiparts(self, older_than: datetime.datetime) -> list[tuple[str, str]]:
        """(key, upload id) of multipart uploads started before `older_than` and never finished."""

        def scan() -> list[tuple[str, str]]:
            found, key_marker, id_marker = [], None, None
            while True:
                page = self._client._list_multipart_uploads(self.bucket, key_marker=key_marker,
                                                            upload_id_marker=id_marker)
                found += [(u.object_name, u.upload_id) for u in page.uploads
                          if u.initiated_time is not None and u.initiated_time < older_than]
                if not page.is_truncated:
                    return found
                key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker

        return await asyncio.to_thread(scan)

    # ------------------------------------------------------------------ objects

    async def size(self, key: str) -> int | None:
        """The object's size; None when there is no such object."""
        try:
            return (await asyncio.to_thread(self._client.stat_object, self.bucket, key)).size
        except S3Error as err:
            if err.code in _MISSING:
                return None
            raise

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """A small object (a generated image), whole."""
        await asyncio.to_thread(self._client.put_object, self.bucket, key, io.BytesIO(data), len(data),
                                content_type=content_type)

    async def read(self, key: str) -> bytes | None:
        """A small object's bytes, whole; None when there is no such object."""

        def run() -> bytes:
            return b"".join(self._chunks(key))

        try:
            return await asyncio.to_thread(run)
        except S3Error as err:
            if err.code in _MISSING:
                return None
            raise

    async def older_than(self, prefix: str, when: datetime.datetime) -> list[str]:
        """Keys under `prefix` of objects last written before `when`."""

        def run() -> list[str]:
            return [o.object_name for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                    if o.last_modified is not None and o.last_modified < when]

        return await asyncio.to_thread(run)

    async def remove(self, key: str) -> None:
        """Idempotent: removing a missing object is not an error (S3 semantics)."""
        await asyncio.to_thread(self._client.remove_object, self.bucket, key)

    async def scan(self, key: str, inspect: Inspect) -> None:
        """Feed the object's bytes to `inspect`, a megabyte at a time (it may raise to stop)."""

        def run() -> None:
            for chunk in self._chunks(key):
                inspect(chunk)

        await asyncio.to_thread(run)

    async def concatenate(self, sources: list[tuple[str, int]], dest: str, *, inspect: Inspect | None = None) -> None:
        """Write `dest` as the objects `sources` ((key, size) in order) one after the other.

        Server-side (multipart copy, no bytes through us) when every source but the last is at
        least S3's minimum part size, which OpenAI's SDK parts (64 MiB) always are; then `inspect`,
        if given, reads the result once. Otherwise the bytes stream through here, a part at a time,
        and `inspect` sees them on the way.
        """
        if all(size >= MIN_PART_BYTES for _, size in sources[:-1]) and len(sources) <= 10000:
            await asyncio.to_thread(self._client.compose_object, self.bucket, dest,
                                    [ComposeSource(self.bucket, key) for key, _ in sources])
            if inspect is not None:
                await self.scan(dest, inspect)
            return
        total = sum(size for _, size in sources)
        reader = _Concatenation(self, [key for key, _ in sources], inspect)
        await asyncio.to_thread(self._client.put_object, self.bucket, dest, reader, total,
                                part_size=8 * 1024 * 1024, num_parallel_uploads=1)

    def _chunks(self, key: str) -> Iterator[bytes]:
        response = self._client.get_object(self.bucket, key)
        try:
            yield from response.stream(READ_BYTES)
        finally:
            response.close()
            response.release_conn()


class _Concatenation:
    """A file-like `read()` over several objects in turn, for minio's `put_object` (which gathers
    what `read` returns into parts itself)."""

    def __init__(self, store: ObjectStore, keys: list[str], inspect: Inspect | None) -> None:
        self._chunks = (chunk for key in keys for chunk in store._chunks(key))
        self._inspect = inspect
        self._pending = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            chunk = next(self._chunks, b"")
            if chunk and self._inspect is not None:
                self._inspect(chunk)
            self._pending = memoryview(chunk)
        size = len(self._pending) if size < 0 else size
        out, self._pending = self._pending[:size], self._pending[size:]
        return bytes(out)


def _ttl(seconds: float) -> datetime.timedelta:
    # S3 signatures live at most 7 days.
    return datetime.timedelta(seconds=min(max(seconds, 1), 7 * 24 * 3600))


def md5_hex() -> tuple[Inspect, Callable[[], str]]:
    """An inspector that hashes what it sees, and the function that reads the digest."""
    digest = hashlib.md5(usedforsecurity=False)
    return digest.update, digest.hexdigest
