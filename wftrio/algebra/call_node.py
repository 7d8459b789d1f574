"""Sub-workflows and recursion (WCP-22): the :class:`Call` node.

A ``call`` names a *registered* workflow.  The compiler resolves the name
through the node's ``resolver`` (a :class:`wftrio.registry.Registry`, given
by :func:`wftrio.call`) when the caller's Program is built and lowers the
callee inline, inside a region (its trace and cancellation scope) and a ctx
layer of its own; a callee that calls itself (or any chain of calls) is
unfolded up to ``max_depth`` nested calls, and a call deeper than that is
compiled to a ``call_enter`` that fails the case with
:class:`~wftrio.errors.CallDepthExceeded` if it ever runs.

This module imports nothing of the registry: a resolver is anything with a
``resolve(name, version) -> Term`` method.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import attrs

from wftrio.algebra._base import EqKey, Parts
from wftrio.algebra.checks import check_name, is_int
from wftrio.algebra.nodes import Term, walk
from wftrio.errors import TermError, TermTypeError

__all__ = ["DEFAULT_MAX_DEPTH", "Call", "Resolver", "callees", "key_map"]

DEFAULT_MAX_DEPTH = 8
"""How many calls may be nested (the recursion bound) unless ``max_depth=`` says otherwise."""


class Resolver(Protocol):
    """Finds the term registered under a name (the newest version for ``None``)."""

    def resolve(self, name: str, version: int | None) -> Term:  # pragma: no cover - protocol
        ...


KeyMap = tuple[tuple[str, str], ...]
"""``((to_key, from_key), ...)``: a ctx mapping, in the order given."""


def key_map(where: str, arg: str, value: object) -> KeyMap:
    """Normalise ``ctx_in=`` / ``ctx_out=``: a mapping ``to -> from`` or a list of names.

    A list of names maps each name to itself.

    Raises:
        TermTypeError: not a mapping of names to names, nor a list of names.
    """
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        pairs = [(v, v) for v in value]
    else:
        raise TermTypeError(
            f"{where}: {arg}={value!r} must be a mapping of ctx keys (to -> from) "
            "or a list of ctx keys"
        )
    for to, frm in pairs:
        check_name(where, f"{arg} key", to)
        check_name(where, f"{arg}[{to!r}]", frm)
    return tuple((str(to), str(frm)) for to, frm in pairs)


@attrs.frozen(repr=False, eq=False)
class Call(Term):
    """Run the registered workflow ``name`` as a child (WCP-22).

    ``ctx_in`` are ``(child_key, parent_key)`` pairs: the child's ctx starts
    with exactly these values (and reads nothing else of the parent's ctx);
    ``ctx_out`` are ``(parent_key, child_key)`` pairs copied back when the
    child completes (nothing else of the child's ctx leaves it).  ``scope``
    is the id of the region the child runs in (``"call:" + name`` unless
    given).  Build it with :func:`wftrio.call`.
    """

    name: str
    resolver: Any = attrs.field(repr=False)
    ctx_in: KeyMap = ()
    ctx_out: KeyMap = ()
    version: int | None = None
    max_depth: int = DEFAULT_MAX_DEPTH
    scope: str | None = None
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        where = f"call({self.name!r})"
        check_name("call", "name", self.name)
        if not callable(getattr(self.resolver, "resolve", None)):
            raise TermTypeError(
                f"{where}: registry={self.resolver!r} must be a wftrio Registry "
                "(anything with resolve(name, version))"
            )
        for arg in ("ctx_in", "ctx_out"):
            value = getattr(self, arg)
            if not isinstance(value, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 for p in value
            ):
                raise TermTypeError(f"{where}: {arg}={value!r} must be (to, from) key pairs")
            tos = [to for to, _ in value]
            if len(set(tos)) != len(tos):
                raise TermError(f"{where}: {arg} maps to the same key twice: {tos}")
        if self.version is not None and (not is_int(self.version) or self.version < 1):
            raise TermTypeError(f"{where}: version={self.version!r} must be None or an int >= 1")
        if not is_int(self.max_depth) or self.max_depth < 1:
            raise TermTypeError(f"{where}: max_depth={self.max_depth!r} must be an int >= 1")
        if self.scope is not None:
            check_name(where, "scope", self.scope)
        self._seal(
            self.name,
            id(self.resolver),
            self.ctx_in,
            self.ctx_out,
            self.version,
            self.max_depth,
            self.scope,
        )

    @property
    def scope_id(self) -> str:
        """The id of the region the child runs in."""
        return self.scope if self.scope is not None else f"call:{self.name}"

    def _eq_key(self) -> EqKey:
        return (
            (
                self.name,
                id(self.resolver),
                self.ctx_in,
                self.ctx_out,
                self.version,
                self.max_depth,
                self.scope,
            ),
            (),
        )

    def _repr_parts(self) -> Parts:
        parts = [repr(self.name)]
        if self.ctx_in:
            parts.append(f"ctx_in={dict(self.ctx_in)!r}")
        if self.ctx_out:
            parts.append(f"ctx_out={dict(self.ctx_out)!r}")
        if self.version is not None:
            parts.append(f"version={self.version}")
        if self.max_depth != DEFAULT_MAX_DEPTH:
            parts.append(f"max_depth={self.max_depth}")
        if self.scope is not None:
            parts.append(f"scope={self.scope!r}")
        return [f"call({', '.join(parts)})"]


def callees(term: Term) -> Iterator[tuple[str, Term]]:
    """Every workflow ``term`` calls, directly or through other calls, each once.

    Yields ``(name, callee term)`` as the compiler would resolve it (the
    same resolver, name and version give the same callee), so recursion
    ends: a workflow calling itself is yielded once.

    Raises:
        UnknownWorkflow: a name its resolver does not know.
    """
    seen: set[tuple[int, str, int | None]] = set()
    stack = [term]
    while stack:
        for _, node in walk(stack.pop()):
            if isinstance(node, Call):
                key = (id(node.resolver), node.name, node.version)
                if key not in seen:
                    seen.add(key)
                    callee = node.resolver.resolve(node.name, node.version)
                    yield node.name, callee
                    stack.append(callee)
