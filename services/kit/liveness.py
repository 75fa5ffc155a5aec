"""A liveness file for container health checks.

With `VIVIAN_LIVENESS_FILE` set, a service's event loop touches that file every few seconds
(`keep_fresh`, started by `BusService.start`). `python -m services.kit.liveness` (compose's
healthcheck) exits 0 while the file is fresher than `VIVIAN_LIVENESS_MAX_AGE` seconds (default 30)
and 1 otherwise: a service whose event loop is wedged, or that never got as far as serving, fails it.
"""

import asyncio
import os
import sys
import time

FILE = "VIVIAN_LIVENESS_FILE"
MAX_AGE = "VIVIAN_LIVENESS_MAX_AGE"
INTERVAL = 5.0


def keep_fresh() -> asyncio.Task | None:
    """Touch `$VIVIAN_LIVENESS_FILE` every `INTERVAL` seconds from the running loop; None when unset."""
    path = os.environ.get(FILE)
    return asyncio.get_running_loop().create_task(_touching(path)) if path else None


async def _touching(path: str) -> None:
    while True:
        with open(path, "a"):
            os.utime(path)
        await asyncio.sleep(INTERVAL)


def check() -> str | None:
    """None when the file is fresh, else why not."""
    path = os.environ.get(FILE)
    if not path:
        return f"{FILE} is not set"
    max_age = float(os.environ.get(MAX_AGE, "30"))
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError as err:
        return f"no liveness file: {err}"
    return None if age <= max_age else f"{path} is {age:.0f} s old (more than {max_age:g} s): the service is wedged"


if __name__ == "__main__":
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
