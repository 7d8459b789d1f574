"""Serving the console with Hypercorn's trio worker, in the caller's trio run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from wftrio.errors import OptionError

__all__ = ["serve"]


async def serve(
    asgi_app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``asgi_app`` over HTTP (or HTTPS) until cancelled (or ``shutdown_trigger`` returns).

    Runs in the current trio run (Hypercorn's trio worker): no second event
    loop, no thread, so the app's handlers call the substrate directly.
    With ``nursery.start(serve, app, host, 0)`` the task status is the list
    of bound addresses (``["http://127.0.0.1:54321"]``), port 0 picking a
    free port.

    Args:
        asgi_app: the application (``wftrio.web.app(...)``).
        host: the address to bind (default loopback only).
        port: the TCP port (0: any free port).
        shutdown_trigger: an async callable; when it returns the server
            stops gracefully.
        certfile: a PEM certificate (chain) file: serve HTTPS (with
            ``keyfile``); the addresses then start with ``https://``.
        keyfile: the certificate's PEM private key file.
        task_status: see above.

    Raises:
        OptionError: only one of ``certfile`` and ``keyfile``, or a file
            that does not exist.
    """
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    # errors only (a handler that raised: its traceback), to stderr
    config.errorlog = "-"
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    if certfile is not None or keyfile is not None:
        if certfile is None or keyfile is None:
            raise OptionError("serve: HTTPS needs both certfile and keyfile")
        for what, path in (("certfile", certfile), ("keyfile", keyfile)):
            if not await trio.Path(path).is_file():
                raise OptionError(f"serve: {what} {path!r} is no file")
        config.certfile = certfile
        config.keyfile = keyfile
    await hypercorn_serve(
        asgi_app, config, shutdown_trigger=shutdown_trigger, task_status=task_status
    )
