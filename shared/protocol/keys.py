"""API keys as stored in the `vivian_keys` key-value bucket, under the key's sha256 (never the key)."""

import msgspec


class KeyRecord(msgspec.Struct, kw_only=True):
    id: str  # key_…, for listing and revoking
    project: str  # proj_…
    name: str = ""
    created_at: int
    redacted: str  # sk-vivian-abc…wxyz, for humans telling keys apart


class Project(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: int
