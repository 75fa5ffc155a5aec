"""An aiohttp application served from a thread of the test process, on a loopback port: the
upstreams the tests route to (tests/image_upstream.py, tests/test_bus_faults.py's chat upstream)."""

import asyncio
import threading

from aiohttp import web


class ThreadedApp:
    """Subclasses list their routes in `routes()`; `start()` serves them, `stop()` ends it."""

    def __init__(self, port: int, *, client_max_size: int = 64 * 1024 * 1024) -> None:
        self.port = port
        self._client_max_size = client_max_size
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        if not ready.wait(30):
            raise RuntimeError(f"{type(self).__name__} did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=self._client_max_size)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
