"""Workflows by name: the registry durable cases resume from.

A stored case cannot hold its workflow (task functions do not serialise),
so it holds the workflow's *name*, *version* and Program fingerprint, and a
process that resumes it finds the workflow again in a :class:`Registry`::

    @wf.workflow("order", version=1)
    def order() -> wf.Term:
        return wf.seq(wf.task("reserve", reserve), wf.task("ship", ship))

    wf.register("refund", refund_term, version=2)

    async with wf.open_substrate() as sub:
        case_id = await sub.new_case("order", {"sku": "x"})   # the newest version

Several versions of one name live side by side ("newest" is the highest),
so cases started on version 1 keep running on it after version 2 is
registered.  The module's default registry serves :func:`workflow`,
:func:`register` and substrates opened without ``registry=``; tests and
embedding code can keep their own :class:`Registry`.

The fingerprint (:func:`wftrio.engine.program_fingerprint`) covers the
workflow's structure (patterns, task names, regions, counts), not the code
inside its task functions: a change to a task's body keeps the version.

Imports nothing of trio or the runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs

from wftrio.algebra.call_node import DEFAULT_MAX_DEPTH, Call, key_map
from wftrio.compiler import Program
from wftrio.compiler import compile as compile_term
from wftrio.engine import program_fingerprint
from wftrio.errors import (
    DuplicateWorkflow,
    RegistrationError,
    RegistrationTypeError,
    UnknownWorkflow,
    WorkflowVersionMismatch,
)
from wftrio.terms import Term

__all__ = [
    "RegisteredWorkflow",
    "Registry",
    "call",
    "default_registry",
    "register",
    "workflow",
]


@attrs.frozen
class RegisteredWorkflow:
    """One registered version of a workflow, as :meth:`Registry.get` returns it.

    Attributes:
        name: the workflow name.
        version: its version (an int >= 1).
        term: the workflow term.
        program: the term compiled.
        fingerprint: ``program``'s fingerprint, stored with durable cases and
            checked when they resume (:meth:`Registry.check`).
    """

    name: str
    version: int
    term: Term = attrs.field(repr=False)
    program: Program = attrs.field(repr=False, eq=False)
    fingerprint: str


class Registry:
    """Workflows by name and version.

    Registration compiles the term at once, so a malformed workflow fails
    where it is registered, not when a case of it starts.  Not thread-safe
    (register at import time, or from the trio thread).
    """

    __slots__ = ("_entries", "_pending")

    def __init__(self) -> None:
        # name -> version -> entry; versions kept in registration order
        self._entries: dict[str, dict[int, RegisteredWorkflow]] = {}
        # the workflows being compiled by register(): a call to one of them
        # (recursion) resolves to its term before it is registered
        self._pending: dict[str, tuple[int, Term]] = {}

    def register(self, name: str, term: Term, *, version: int = 1) -> RegisteredWorkflow:
        """Register ``term`` as version ``version`` of workflow ``name``.

        Registering the same name and version again with a Program of the
        same fingerprint changes nothing and returns the entry registered
        first.

        Returns:
            The registry's entry for ``name`` and ``version``.

        Raises:
            RegistrationTypeError: ``name`` is not a str, ``version`` not an
                int or ``term`` not a workflow term.
            RegistrationError: ``name`` is empty or ``version`` < 1.
            DuplicateWorkflow: that version is registered with another Program.
            TermError: ``term`` is malformed.
        """
        _check_name(name, "register")
        _check_version(version, "register")
        if not isinstance(term, Term):
            raise RegistrationTypeError(
                f"register(): term must be a workflow term, got {type(term).__name__}"
            )
        return self._register_group({name: term}, version)[0]

    def register_together(
        self, workflows: Mapping[str, Term], *, version: int = 1
    ) -> list[RegisteredWorkflow]:
        """Register several workflows at once, as version ``version`` of each name.

        While they compile, each resolves the others' names (and its own),
        so workflows that call each other (mutual recursion, WCP-22) can be
        registered; :meth:`register` one by one cannot, since each would
        need the other registered first.  All or nothing: if one fails,
        none is registered.

        Returns:
            The entries, in the order of ``workflows``.

        Raises:
            RegistrationTypeError / RegistrationError / DuplicateWorkflow /
            TermError: as :meth:`register`, for any of them; or
            ``workflows`` is not a non-empty mapping.
        """
        if not isinstance(workflows, Mapping):
            raise RegistrationTypeError(
                "register_together(): workflows must be a mapping name -> term, got "
                f"{type(workflows).__name__}"
            )
        if not workflows:
            raise RegistrationError("register_together(): workflows is empty")
        _check_version(version, "register_together")
        for name, term in workflows.items():
            _check_name(name, "register_together")
            if not isinstance(term, Term):
                raise RegistrationTypeError(
                    f"register_together(): workflows[{name!r}] must be a workflow term, "
                    f"got {type(term).__name__}"
                )
        return self._register_group(dict(workflows), version)

    def _register_group(self, group: dict[str, Term], version: int) -> list[RegisteredWorkflow]:
        """Compile ``group`` with its names resolvable (recursion), then register it all."""
        busy = sorted(set(group) & set(self._pending))
        if busy:
            raise RegistrationError(
                f"register(): {busy[0]!r} is being registered already (from its own compile)"
            )
        self._pending.update((n, (version, t)) for n, t in group.items())
        try:
            programs = {n: compile_term(t) for n, t in group.items()}
        finally:
            for n in group:
                del self._pending[n]
        out: list[RegisteredWorkflow] = []
        new: list[RegisteredWorkflow] = []
        for name, term in group.items():
            fingerprint = program_fingerprint(programs[name])
            old = self._entries.get(name, {}).get(version)
            if old is not None:
                if old.fingerprint != fingerprint:
                    raise DuplicateWorkflow(name, version, old.fingerprint, fingerprint)
                out.append(old)
            else:
                entry = RegisteredWorkflow(name, version, term, programs[name], fingerprint)
                out.append(entry)
                new.append(entry)
        for entry in new:
            self._entries.setdefault(entry.name, {})[version] = entry
        return out

    def workflow(
        self, name: str, *, version: int = 1
    ) -> Callable[[Callable[[], Term]], Callable[[], Term]]:
        """Decorator: register the term a zero-argument function returns.

        The function is called once, at decoration, and returned unchanged.

        Raises:
            RegistrationTypeError: as :meth:`register`; or the decorated
                object is not callable, or returns something that is not a
                workflow term.
            RegistrationError / DuplicateWorkflow: as :meth:`register`.
        """
        _check_name(name, "workflow")
        _check_version(version, "workflow")

        def decorate(fn: Callable[[], Term]) -> Callable[[], Term]:
            if not callable(fn):
                raise RegistrationTypeError(
                    f"workflow({name!r}): decorates a zero-argument function returning "
                    f"a term, got {type(fn).__name__}"
                )
            term = fn()
            if not isinstance(term, Term):
                raise RegistrationTypeError(
                    f"workflow({name!r}): {getattr(fn, '__qualname__', fn)!r} must return a "
                    f"workflow term, returned {type(term).__name__}"
                )
            self.register(name, term, version=version)
            return fn

        return decorate

    def get(self, name: str, version: int | None = None) -> RegisteredWorkflow:
        """The entry for ``name`` at ``version`` (``None``: the newest, highest version).

        Raises:
            UnknownWorkflow: no such name, or no such version of it (the
                message lists what is registered).
            RegistrationTypeError / RegistrationError: a bad ``name`` or ``version``.
        """
        _check_name(name, "get")
        if version is not None:
            _check_version(version, "get")
        versions = self._entries.get(name)
        if versions:
            entry = versions.get(max(versions) if version is None else version)
            if entry is not None:
                return entry
        raise UnknownWorkflow(name, version, {n: self.versions(n) for n in self.names()})

    def resolve(self, name: str, version: int | None) -> Term:
        """The term a ``call(name, version=...)`` runs (WCP-22); the compiler asks this.

        A workflow being registered resolves to its own term, so a workflow
        may call itself.

        Raises:
            UnknownWorkflow: as :meth:`get`.
        """
        pending = self._pending.get(name)
        if pending is not None and version in (None, pending[0]):
            return pending[1]
        return self.get(name, version).term

    def versions(self, name: str) -> tuple[int, ...]:
        """The registered versions of ``name``, ascending (empty if none).

        Raises:
            RegistrationTypeError / RegistrationError: a bad ``name``.
        """
        _check_name(name, "versions")
        return tuple(sorted(self._entries.get(name, ())))

    def names(self) -> tuple[str, ...]:
        """The registered workflow names, sorted."""
        return tuple(sorted(self._entries))

    def check(self, name: str, version: int, fingerprint: str) -> RegisteredWorkflow:
        """The entry a stored case resumes on, if its Program is the one the case started with.

        Args:
            name: the stored case's workflow name.
            version: its workflow version.
            fingerprint: the Program fingerprint stored with the case.

        Returns:
            The registered entry for ``name`` and ``version``.

        Raises:
            WorkflowVersionMismatch: the registered Program's fingerprint differs.
            UnknownWorkflow: that name or version is not registered.
            RegistrationTypeError / RegistrationError: a bad argument.
        """
        if not isinstance(fingerprint, str):
            raise RegistrationTypeError(
                f"check(): fingerprint must be a str, got {type(fingerprint).__name__}"
            )
        entry = self.get(name, version)
        if entry.fingerprint != fingerprint:
            raise WorkflowVersionMismatch(name, version, fingerprint, entry.fingerprint)
        return entry

    def __iter__(self) -> Iterator[RegisteredWorkflow]:
        """Every entry, by name, then version."""
        for name in self.names():
            versions = self._entries[name]
            for v in sorted(versions):
                yield versions[v]

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"<Registry {len(self._entries)} name(s), {len(self)} version(s)>"


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str):
        raise RegistrationTypeError(f"{where}(): name must be a str, got {type(name).__name__}")
    if not name:
        raise RegistrationError(f"{where}(): name must be a non-empty str")


def _check_version(version: object, where: str) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise RegistrationTypeError(
            f"{where}(): version must be an int >= 1, got {type(version).__name__}"
        )
    if version < 1:
        raise RegistrationError(f"{where}(): version must be an int >= 1, got {version}")


#: the registry of :func:`workflow`, :func:`register` and substrates opened
#: without ``registry=``
default_registry = Registry()


def register(name: str, term: Term, *, version: int = 1) -> RegisteredWorkflow:
    """Register ``term`` as version ``version`` of ``name`` in the default registry.

    See :meth:`Registry.register`.
    """
    return default_registry.register(name, term, version=version)


def workflow(name: str, *, version: int = 1) -> Callable[[Callable[[], Term]], Callable[[], Term]]:
    """Decorator: register the term a zero-argument function returns, in the default registry.

    ::

        @wf.workflow("order", version=1)
        def order() -> wf.Term:
            return wf.seq(...)

    The function is called once, when it is decorated (so a malformed
    workflow fails at import), and returned unchanged.  See
    :meth:`Registry.workflow`.
    """
    return default_registry.workflow(name, version=version)


def call(
    name: str,
    *,
    ctx_in: Mapping[str, str] | Sequence[str] | None = None,
    ctx_out: Mapping[str, str] | Sequence[str] | None = None,
    version: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    scope: str | None = None,
    registry: Registry | None = None,
) -> Call:
    """Sub-workflow / recursion (WCP-22): run the registered workflow ``name`` as a child.

    ::

        wf.call("fact", ctx_in={"n": "m"}, ctx_out={"sub": "result"})

    The child runs with a ctx of its own that starts with exactly
    ``ctx_in`` (``{child_key: parent_key}``; a list of keys maps each to
    itself) and reads nothing else of the caller's ctx; its tasks' updates
    stay in it.  When the child completes, ``ctx_out``
    (``{parent_key: child_key}``) is copied into the caller's ctx.  A
    missing key on either side fails the case with
    :class:`~wftrio.errors.CallError`.  The child runs in a region
    ``scope`` (``"call:" + name`` by default): its trace events carry that
    scope, ``cancel_region(scope)`` cancels it, and cancelling a region
    around the call cancels the child.

    The name is resolved in ``registry`` (the default registry) when the
    caller is compiled (for a registered caller: when it is registered,
    where a workflow may call itself), and the child is compiled inline.
    Recursion is unfolded up to ``max_depth`` nested calls; a call deeper
    than that fails the case with :class:`~wftrio.errors.CallDepthExceeded`
    when it runs.  A Program grows with the unfolding (linearly for a
    workflow calling itself once per run).

    Raises:
        TermTypeError: a bad name, mapping, version, max_depth, scope or registry.
        TermError: a mapping naming one target key twice.
    """
    where = f"call({name!r})"
    return Call(
        name,
        default_registry if registry is None else registry,
        key_map(where, "ctx_in", ctx_in),
        key_map(where, "ctx_out", ctx_out),
        version,
        max_depth,
        scope,
    )
