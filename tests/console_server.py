"""A console served for a real browser: a substrate and Hypercorn in one trio run, on
a background thread, on a free loopback port; and a headless Chromium driven by Selenium.

Used by tests/test_web_browser.py and by the ``screenshots`` nox session
(tools/console_screenshots.py).  The browser is the distribution's
(``/usr/bin/chromium`` with ``/usr/bin/chromedriver``); a missing one is an
error, never a skip.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import trio

import wftrio as wf
from wftrio.web import app, serve

CHROMIUM = os.environ.get("WFTRIO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WFTRIO_CHROMEDRIVER", "/usr/bin/chromedriver")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def demo_registry(prepare_seconds: float = 1.0) -> wf.Registry:
    """``order``: an effect that takes a while, a payment wait in a region, shipping."""

    async def prepare(ctx: Any) -> dict[str, Any]:
        await trio.sleep(prepare_seconds)
        return {"prepared": True}

    reg = wf.Registry()
    reg.register(
        "order",
        wf.seq(
            wf.task("reserve", lambda c: {"reserved": True}),
            wf.task("prepare", prepare),
            wf.region(
                "payment",
                wf.wait_signal("paid", store_as="payment"),
                compensate=wf.task("refund", lambda c: {"refunded": True}),
            ),
            wf.par(
                wf.task("ship", lambda c: {"shipped": True}),
                wf.task("invoice", lambda c: {"invoiced": True}),
            ),
        ),
    )
    return reg


class ConsoleThread:
    """``with ConsoleThread(registry) as console:`` serves ``console.url`` until the block ends.

    ``console.call(afn, *args)`` runs ``afn(sub, *args)`` in the server's trio run.
    """

    def __init__(self, registry: wf.Registry, **app_options: Any) -> None:
        self.registry = registry
        self.app_options = app_options
        self.url = ""
        self._ready: queue.Queue[tuple[str, Any] | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="wftrio-console", daemon=True)
        self._stop: trio.Event | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._sub: wf.Substrate | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # handed to the test thread, which raises it
            self._error = exc
            self._ready.put(exc)

    async def _main(self) -> None:
        self._stop = trio.Event()
        async with wf.open_substrate(registry=self.registry) as sub, trio.open_nursery() as n:
            self._sub = sub
            binds = await n.start(serve, app(sub, **self.app_options), "127.0.0.1", 0)
            self._ready.put((binds[0], trio.lowlevel.current_trio_token()))
            await self._stop.wait()
            n.cancel_scope.cancel()

    def __enter__(self) -> ConsoleThread:
        self._thread.start()
        got = self._ready.get(timeout=30)
        if isinstance(got, BaseException):
            raise got
        self.url, self._token = got
        return self

    def call(self, afn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run ``afn(sub, *args)`` in the server's trio run; return its result."""

        async def run() -> Any:
            assert self._sub is not None
            return await afn(self._sub, *args)

        return trio.from_thread.run(run, trio_token=self._token)

    def __exit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stop is not None and self._token is not None and self._thread.is_alive():
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(timeout=30)
        if self._error is not None and etype is None:
            raise self._error


def chromium(user_data_dir: str | None = None) -> Any:
    """A headless Chromium (Selenium WebDriver); raises if the browser is not installed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            raise RuntimeError(
                f"{path} is missing: install the distribution's browser "
                "(apt-get install chromium chromium-driver); .ci/run does"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='wfchr-')}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
