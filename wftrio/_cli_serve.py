"""``wftrio serve STORE``: the web console (``wftrio.web``) over a store file.

If no process owns the store, ``serve`` opens a substrate on it (its
unfinished cases resume, and run, in this process) and serves the console
over that substrate in the same trio run (Hypercorn's trio worker): cases
can be started, signalled and cancelled from the browser or the API.  If
another process owns the store, ``serve`` only reads it, and its signals
and cancellations go through the store's inbox to that process.
``wftrio serve postgresql://...`` reads a ``wf.PostgresStore`` database
(docs/SCALING.md): requests and new cases are committed for its workers.

``--workflows MODULE`` (repeatable) imports a module or ``.py`` file first,
so the workflows it registers (``@wf.workflow``) can be resumed and
started; a module's ``HANDLER`` (as in ``wftrio run``) becomes the
substrate's effect handler.  ``--token`` (or the ``WFTRIO_TOKEN`` environment variable) makes
every mutating call need ``Authorization: Bearer <token>``;
``--signal-token TOKEN=NAME[,NAME...]`` adds tokens that may only send the
named signals (webhooks); ``--protect-reads`` makes every page and API read
need the token too (browsers log in at ``/login``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from functools import partial
from typing import Any

from wftrio._modload import load_module
from wftrio.errors import CliError, StoreError, StoreLocked, WftrioError

__all__ = ["add_serve_command"]


def _signal_tokens(items: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in items:
        tok, sep, names = item.partition("=")
        found = {n for n in names.split(",") if n}
        if not sep or not tok or not found:
            raise CliError(f"--signal-token {item!r}: expected TOKEN=NAME[,NAME...]")
        out.setdefault(tok, set()).update(found)
    return out


async def _serve(
    args: argparse.Namespace,
    token: str | None,
    hooks: dict[str, set[str]],
    owned: bool,
    handler: Any,
) -> None:
    import trio

    import wftrio as wf
    from wftrio.web import app, serve

    def announce(binds: list[str], what: str) -> None:
        print(f"wftrio console on {', '.join(binds)} ({what}); Ctrl+C stops it", flush=True)

    async def run(asgi: Any, what: str) -> None:
        # SIGTERM (a service manager stopping it) ends it as Ctrl+C does, closing the
        # substrate in order; opened before listening, so no SIGTERM is missed
        with trio.open_signal_receiver(signal.SIGTERM) as stop:
            async with trio.open_nursery() as nursery:
                binds = await nursery.start(
                    partial(serve, certfile=args.certfile, keyfile=args.keyfile),
                    asgi,
                    args.host,
                    args.port,
                )
                announce(binds, what)
                async for _ in stop:
                    print("wftrio console: stopping (SIGTERM)", flush=True)
                    nursery.cancel_scope.cancel()
                    break

    path = args.store
    if path.startswith(("postgresql://", "postgres://")):  # workers run the cases
        await run(
            app(path, token=token, signal_tokens=hooks, protect_reads=args.protect_reads),
            "reading a PostgresStore database; requests are committed for its workers",
        )
        return
    if not owned:
        try:
            async with wf.open_substrate(path=path, effect_handler=handler) as sub:
                what = f"running the cases of {path}"
                if sub.unresumed:
                    what += f"; {len(sub.unresumed)} stored cases could not resume"
                await run(
                    app(sub, token=token, signal_tokens=hooks, protect_reads=args.protect_reads),
                    what,
                )
                return
        except StoreLocked:
            pass  # another process took it meanwhile: read it
    await run(
        app(path, token=token, signal_tokens=hooks, protect_reads=args.protect_reads),
        f"reading {path}, owned by another process; requests go through its inbox",
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from wftrio.stores._outside import is_owned

    try:
        import hypercorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError as exc:
        raise CliError(
            f"`wftrio serve` needs the web extra (pip install 'wftrio[web]'): {exc}"
        ) from None
    handlers: list[Any] = []
    for spec in args.workflows:
        found = getattr(load_module(spec, "--workflows "), "HANDLER", None)
        if found is not None and all(found is not h for h in handlers):
            handlers.append(found)
    if len(handlers) > 1:
        raise CliError(
            "--workflows: more than one module defines HANDLER; the substrate takes one "
            "effect handler (combine them in one module)"
        )
    token = args.token or os.environ.get("WFTRIO_TOKEN") or None
    hooks = _signal_tokens(args.signal_token)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: expected 0 to 65535")
    if (args.certfile is None) != (args.keyfile is None):
        raise CliError("--certfile and --keyfile go together (HTTPS needs both)")
    for flag, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if path is not None and not os.path.isfile(path):
            raise CliError(f"{flag} {path}: no such file")
    if args.protect_reads and token is None:
        raise CliError(
            "--protect-reads needs --token (or $WFTRIO_TOKEN): reads are checked against it"
        )
    if token is None and not hooks and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"wftrio serve: warning: listening on {args.host} without --token: anyone who "
            "can reach it can start, signal and cancel cases",
            file=sys.stderr,
        )
    try:
        owned = os.path.exists(args.store) and is_owned(args.store)  # False for a DSN
        trio.run(_serve, args, token, hooks, owned, handlers[0] if handlers else None)
    except (StoreError, WftrioError, OSError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def add_serve_command(sub: Any) -> None:
    """Add ``serve`` to the ``wftrio`` subparsers."""
    s = sub.add_parser(
        "serve",
        help="serve the web console (HTTP API and pages) over a store file",
        description="Serve the web console over STORE (docs/CONSOLE.md). If no process owns "
        "the store, its cases run in this process (resumed when it opens); else it is read, "
        "and requests go through its inbox to the owner.",
    )
    s.add_argument("store", help="a store file (created if missing)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0: any)")
    s.add_argument("--certfile", help="PEM certificate (chain): serve HTTPS (with --keyfile)")
    s.add_argument("--keyfile", help="PEM private key of --certfile")
    s.add_argument(
        "--token",
        help="bearer token every mutating call needs (default: $WFTRIO_TOKEN; none: no auth)",
    )
    s.add_argument(
        "--protect-reads",
        action="store_true",
        help="every page and API read needs the token too (browsers log in at /login)",
    )
    s.add_argument(
        "--signal-token",
        action="append",
        default=[],
        metavar="TOKEN=NAME[,NAME]",
        help="a token that may only send the named signals (repeatable; for webhooks)",
    )
    s.add_argument(
        "--workflows",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module or .py file that registers workflows first (repeatable); "
        "its HANDLER, if any, handles the cases' effects",
    )
    s.set_defaults(func=_cmd_serve)
