"""Embeddings throughput: through Vivian (edge → NATS → embeddings service) against the same model
called in-process, in the same run.

    .venv/bin/python -m bench.embeddings [--requests 2000]

C = 1, 8, 64 clients each send one short sentence per request. The in-process figure for a given C
is the model fed batches of C sentences back to back: what the service's micro-batching could
reach at best. Loopback only; prints one table.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

from bench import loadgen
from bench.overhead import _make_key, _wait_http, free_port
from devstack import nats, processes
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from shared import modelconfig

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


async def in_process(concurrency: int, seconds: float = 3.0) -> float:
    """Sentences/s of the model itself, fed batches of `concurrency`."""
    entry = next(e for e in modelconfig.load().models if isinstance(e, modelconfig.LocalEmbeddingModel))
    model = OnnxEmbedding(entry)
    await model.start()
    ids = model.token_ids([SENTENCE] * concurrency)
    model._embed_batch(ids)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model._embed_batch(ids)
        done += concurrency
    rate = done / (time.perf_counter() - started)
    await model.close()
    return rate


def start_stack(home: str) -> tuple[dict, int, str]:
    procs = {}
    procs["nats"], nats_url = nats.start(os.path.join(home, "nats"))
    key = asyncio.run(_make_key(nats_url))
    port = free_port()
    env = {"VIVIAN_NATS_URL": nats_url, "VIVIAN_PORT": str(port)}
    procs["embeddings"] = processes.spawn_module("services.embeddings", env=env,
                                                 log_path=os.path.join(home, "embeddings.log"))
    processes.wait_for_line(os.path.join(home, "embeddings.log"), "serving", proc=procs["embeddings"], timeout=120)
    procs["edge"] = processes.spawn_module("services.edge", env=env, log_path=os.path.join(home, "edge.log"))
    _wait_http(f"http://127.0.0.1:{port}/healthz", procs["edge"])
    return procs, port, key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embeddings", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    args = parser.parse_args(argv)
    body = json.dumps({"model": "text-embedding-3-small", "input": SENTENCE, "encoding_format": "base64"}).encode()
    rows = []
    with tempfile.TemporaryDirectory() as home:
        procs, port, key = start_stack(home)
        try:
            raw = loadgen.request_bytes(port, "/v1/embeddings", body, key=key)
            asyncio.run(loadgen.run(port, raw, concurrency=8, count=200, stream=False, expect=b'"embedding"'))
            for concurrency in (1, 8, 64):
                result = asyncio.run(loadgen.run(port, raw, concurrency=concurrency, count=args.requests,
                                                 stream=False, expect=b'"embedding"'))
                rows.append((concurrency, result))
        finally:
            for proc in procs.values():
                processes.stop(proc)
    print("| C | in-process sentences/s (batches of C) | through Vivian req/s | ratio | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for concurrency, result in rows:
        direct = asyncio.run(in_process(concurrency))
        print(f"| {concurrency} | {direct:,.0f} | {result.rate:,.0f} | {result.rate / direct:.2f} | "
              f"{result.pct(result.latencies, 0.5) * 1000:.2f} | {result.pct(result.latencies, 0.99) * 1000:.2f} | "
              f"{result.errors} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
