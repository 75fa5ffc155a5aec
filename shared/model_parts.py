"""A model file shipped in pieces (PyPI caps the size of one file): joined once, in order, and kept
only when its sha256 is the one expected. Later starts find the joined file and read nothing else."""

import hashlib
import os


def joined(target: str, parts: list[str], sha256: str) -> str:
    """`target`, joined from `parts` unless it is already there; returns `target`."""
    size = sum(os.path.getsize(part) for part in parts)
    if os.path.isfile(target) and os.path.getsize(target) == size:
        return target  # only ever renamed into place after its hash matched
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = f"{target}.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise SystemExit(f"model parts joined into {target} have sha256 {digest.hexdigest()}, "
                             f"not {sha256}: a part is damaged or from another version")
        os.replace(partial, target)  # whole or absent, even with two replicas joining at once
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target
