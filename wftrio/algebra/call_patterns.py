"""WCP-22 recursion and sub-workflows as a named pattern (see :mod:`wftrio.algebra.call_node`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wftrio.algebra.call_node import DEFAULT_MAX_DEPTH, Call, Resolver, key_map

__all__ = ["recursion"]


def recursion(
    name: str,
    *,
    registry: Resolver,
    ctx_in: Mapping[str, str] | Sequence[str] | None = None,
    ctx_out: Mapping[str, str] | Sequence[str] | None = None,
    version: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    scope: str | None = None,
) -> Call:
    """Recursion and sub-workflows (WCP-22).

    Term form: ``call(name, ctx_in=..., ctx_out=...)``: the registered
    workflow ``name`` runs as a child with a ctx scope of its own (its
    region ``scope``, by default ``"call:" + name``, is its trace and
    cancellation scope), and may call itself up to ``max_depth`` nested
    calls.  As :func:`wftrio.call`, with the registry given explicitly
    (``wf.call`` defaults it to the default registry).

    Raises:
        TermTypeError / TermError: as :func:`wftrio.call`.
    """
    where = f"call({name!r})"
    return Call(
        name,
        registry,
        key_map(where, "ctx_in", ctx_in),
        key_map(where, "ctx_out", ctx_out),
        version,
        max_depth,
        scope,
    )
