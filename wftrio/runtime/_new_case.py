"""``Substrate.new_case``'s general path: any term, options, case id or store.

The substrate's own ``new_case`` starts the bare term it started last with
its defaults on a fast path (no lookup, no check it already passed); every
other start comes here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from wftrio.compiler import compile as compile_term
from wftrio.effects import root_case, run_root
from wftrio.errors import DuplicateCase, OptionError, ReplayDivergence, UnregisteredTerm
from wftrio.runtime._durable import CaseLog, check_json
from wftrio.runtime._ids import new_ids
from wftrio.runtime._inbox import Inbox
from wftrio.runtime._runner import Case
from wftrio.runtime._stored import dump_options
from wftrio.runtime._substrate_args import check_ctx, count
from wftrio.runtime._types import parse_case_options
from wftrio.scheduling import Replay
from wftrio.stores import StoredCase
from wftrio.validation import check_program

if TYPE_CHECKING:
    from wftrio.runtime._substrate import Substrate
    from wftrio.terms import Term

__all__ = ["start_case"]


async def start_case(
    sub: Substrate,
    term: Term | str,
    ctx: Mapping[str, Any] | None,
    case_id: str | None,
    version: int | None,
    options: dict[str, Any],
) -> str:
    """``sub.new_case(term, ctx, case_id, version=version, **options)``: the general path.

    Everything :meth:`~wftrio.runtime._substrate.Substrate.new_case` checks
    and does, for any term, options, id or store.  When it has started a
    bare term with the substrate's defaults (validated, no store, no
    replay), it records the term and its Program in ``sub._fast``: the next
    start of that term takes ``new_case``'s fast path.
    """
    sub._check_open()
    await trio.lowlevel.checkpoint_if_cancelled()
    # no option given: the substrate's defaults, checked when it opened
    opts = parse_case_options(sub.defaults, options, "new_case()") if options else sub.defaults
    if ctx is not None:
        check_ctx(ctx)
    entry = last = None
    if isinstance(term, str):
        if term == "":
            raise OptionError("new_case(): term='' is neither a workflow term nor a name")
        if version is not None and not count(version):
            raise OptionError(f"new_case(): version={version!r}, expected None or an int >= 1")
        entry = sub.registry.get(term, version)
        program = entry.program
    elif version is not None:
        raise OptionError(
            f"new_case(): version={version!r} applies to a workflow given by name, not to a term"
        )
    else:
        last = sub._last
        if last is not None and last[0] is term:
            program = last[1]  # compiled before: no cache lookup (see _last)
        else:
            program = compile_term(term)
            sub._last = last = (term, program, None)
    if sub._durable is not None:
        if entry is None:
            raise UnregisteredTerm(
                "new_case(): a durable store resumes cases by workflow name: register "
                "the workflow (wf.register / @wf.workflow) and start it by name"
            )
        if opts.trace_level == "none":
            raise OptionError(
                "new_case(): trace_level='none' on a durable store: its cases are "
                "stored as their trace; use 'min' or 'full'"
            )
        check_json(dict(ctx or {}), "new_case(): the ctx")
        options_text = dump_options(opts, "new_case()")
    if opts.validate and not (
        last is not None and last[2] is not None and last[2][0] == opts.validate_budget
    ):
        check_program(program, budget_s=opts.validate_budget)
        if last is not None:  # passed: the same term at this budget passes again
            sub._last = (last[0], program, (opts.validate_budget,))
    spec = opts.scheduler
    own_root = spec.log.root if isinstance(spec, Replay) else None
    if last is not None:
        # new_case's fast path: this term with the defaults (validated if they
        # say so), no replay, no store; anything else leaves no fast path
        fast = not options and own_root is None and sub._durable is None
        sub._fast = (last[0], program) if fast else None
    if case_id is None and own_root is not None:
        case_id = root_case(own_root)  # a replay resumes the case it recorded
    token = None
    if case_id is None:
        case_id, token = new_ids()
        while case_id in sub._cases:  # pragma: no cover - 2**-122
            case_id, token = new_ids()
    elif not isinstance(case_id, str):
        raise OptionError(f"new_case(): case_id must be a str, got {type(case_id).__name__}")
    elif case_id == "":
        raise OptionError("new_case(): case_id must be a non-empty str (omit it for a new id)")
    elif case_id in sub._cases:
        raise DuplicateCase(f"case {case_id!r} already exists on this substrate")
    if own_root is not None and root_case(own_root) != case_id:
        raise ReplayDivergence(
            f"new_case(case_id={case_id!r}): the replayed log belongs to case "
            f"{root_case(own_root)!r} (causal root {own_root!r}); a replay continues "
            "that case with its idempotency keys, so it runs under that case's id "
            "(omit case_id=, and forget the original first if this substrate still "
            "knows it)"
        )
    nonce = token if token is not None else secrets.token_hex(4)
    root = own_root if own_root is not None else run_root(case_id, nonce)
    case = Case(sub, case_id, program, ctx, opts, root, entry)
    store = sub._durable
    if store is not None:
        assert entry is not None
        case.durable = CaseLog(store, case_id, 0)
        case.inbox = Inbox(sub.inbox_capacity)  # reachable while the row is written
        sub._cases[case_id] = case  # the id is taken while the row is written
        try:
            await store.create_case(
                StoredCase(
                    case_id,
                    entry.name,
                    entry.version,
                    entry.fingerprint,
                    root,
                    opts.trace_level,
                    dict(ctx or {}),
                    options=options_text,
                    created=float(store.clock()),
                )
            )
        except BaseException:
            del sub._cases[case_id]
            raise
    sub._launch(case)
    await trio.lowlevel.cancel_shielded_checkpoint()
    return case_id
