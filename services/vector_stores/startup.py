"""The vector stores service's parts: the records, the vector index, the clients of the files and
embeddings services, the ingestion worker, the expiry sweep, and the service."""

import os
from contextlib import asynccontextmanager

import aiohttp

from services.kit.files_client import Files
from services.kit.main import Startup
from services.kit.sweeper import Sweeper
from services.vector_stores import expiry, ingestion
from services.vector_stores.chunking import Chunker
from services.vector_stores.context import Context
from services.vector_stores.index import VectorIndex, open_index
from services.vector_stores.service import VectorStoresService
from services.vector_stores.settings import DEFAULT_TOKENIZER, VectorStoresSettings
from services.vector_stores.tables import Tables
from shared import bus


def index_of(settings: VectorStoresSettings) -> VectorIndex:
    if settings.vector_backend == "server":
        return open_index("server", url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                          collection=settings.qdrant_collection, dimensions=settings.embedding_dimensions)
    path = settings.vectors_dir or os.path.join(os.path.expanduser("~"), ".vivian", "vectors")
    return open_index(settings.vector_backend, path=path, dimensions=settings.embedding_dimensions)


@asynccontextmanager
async def parts(startup: Startup):
    settings: VectorStoresSettings = startup.settings
    tables = Tables(settings.mongo_url)
    await tables.ensure_indexes()
    index = index_of(settings)
    await index.start()
    caller = bus.Caller(startup.nc)
    await caller.start()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
    running = []
    try:
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
            files = Files(caller, http, timeout=settings.call_timeout, idle_timeout=settings.call_idle_timeout)
            ctx = Context(js=startup.nc.jetstream(), caller=caller, files=files, tables=tables, index=index,
                          chunker=Chunker(settings.tokenizer or DEFAULT_TOKENIZER), settings=settings,
                          page_budget=startup.page_budget)
            running.append(await ingestion.start(ctx))
            running.append(Sweeper("vector_stores", lambda: expiry.sweep(ctx), settings.sweep_interval).start())
            startup.log.info("vectors: %s backend", settings.vector_backend)
            yield VectorStoresService(startup.nc, ctx, heartbeat_interval=settings.heartbeat_interval,
                                      tracer_provider=startup.tracing)
    finally:
        for part in reversed(running):
            await part.stop()
        await caller.stop()
        await index.close()
        await tables.close()
