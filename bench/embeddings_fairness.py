"""How long a one-input embeddings request waits while a big one runs.

    .venv/bin/python -m bench.embeddings_fairness [--inputs 400] [--repeat 15]

Starts the stack as `bench.embeddings` does (the default model config, batches of 64), times a
one-input request alone, then sends one request of `--inputs` long texts (about 230 tokens each,
as issue 12's) and, while it runs, one-input requests one after the other. Prints the big request's
time and the small ones' latencies. The big answer is base64 and must fit one bus message (~480
inputs) until large answers travel in pieces.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time

import aiohttp

from bench.embeddings import start_stack
from devstack import processes

MODEL = "text-embedding-3-small"
PHRASE = "the quick brown fox jumps over the lazy dog and runs across the green field "


async def measure(port: int, key: str, inputs: int, repeat: int) -> dict:
    url = f"http://127.0.0.1:{port}/v1/embeddings"
    small = {"model": MODEL, "input": "one short sentence", "encoding_format": "base64"}
    big = {"model": MODEL, "input": [f"text {i}: " + PHRASE * 15 for i in range(inputs)], "encoding_format": "base64"}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                     timeout=aiohttp.ClientTimeout(total=3600)) as http:

        async def post(body: dict) -> float:
            started = time.perf_counter()
            async with http.post(url, json=body) as resp:
                answer = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{resp.status}: {answer[:300]!r}")
            return time.perf_counter() - started

        await post(small)  # warm-up
        alone = [await post(small) for _ in range(repeat)]
        big_task = asyncio.create_task(post(big))
        waits = []
        while not big_task.done():  # every small request sent while the big one runs
            waits.append(await post(small))
        return {"alone": alone, "waits": waits, "big": await big_task}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embeddings_fairness", description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=400, help="inputs of the big request")
    parser.add_argument("--repeat", type=int, default=15, help="one-input requests timed alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        procs, port, key = start_stack(home)
        try:
            result = asyncio.run(measure(port, key, args.inputs, args.repeat))
        finally:
            for proc in procs.values():
                processes.stop(proc)
    waits = result["waits"]
    print(f"big request ({args.inputs} inputs of ~230 tokens): {result['big']:.1f} s")
    print(f"one-input request alone: median {statistics.median(result['alone']) * 1000:.1f} ms")
    print(f"one-input requests sent while it ran: {len(waits)}, median {statistics.median(waits):.2f} s, "
          f"longest {max(waits):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
