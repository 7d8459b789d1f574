"""The reducer's loop: ``ExecState.run``, taking steps until the case blocks or ends.

Two loops with the same semantics: the general one, and one for a
scheduler that never preempts (the default ``Deterministic``), where a
token runs until it blocks or ends and the ready stack is popped inline
(issue 12: this loop turns once per step of every case).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wftrio.engine.protocol import FINAL, Status

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["run"]


def run(st: ExecState, max_steps: int = 1 << 62) -> Status:
    """Take up to ``max_steps`` steps; return the status afterwards.

    Returns ``RUNNING`` when ``max_steps`` ran out with work left,
    ``BLOCKED`` when every live token waits on the outside world, or a
    final status.  (``ExecState.run``: this function is the method.)
    """
    if st.status in FINAL:
        return st.status
    if st.preemptive:
        return _run_preemptive(st, max_steps)
    # a scheduler that never preempts: the token in hand runs on
    code = st.code
    ready = st.ready
    left = max_steps
    while left > 0:
        tok = st.current
        if tok is None:
            # the top of the stack, skipping the tokens withdrawn or
            # blocked since they were made ready
            while ready:
                tok = ready.pop()
                if tok.alive and tok.wait is None:
                    break
            else:
                break
            st.current = tok
        n = code[tok.pc](st, tok, left)
        st.steps += n
        left -= n
        if st.status in FINAL:
            return st.status
        ready = st.ready  # (make_ready swaps a long list for a deque)
    return _settle(st)


def _run_preemptive(st: ExecState, max_steps: int) -> Status:
    """:func:`run` for a preemptive scheduler: it picks again before every step."""
    code = st.code
    left = max_steps
    while left > 0:
        tok = st.current
        if tok is None:
            tok = _pick(st)
            if tok is None:
                break
            st.current = tok
        elif st.ready:
            st.ready.append(tok)
            st.current = None
            continue
        n = code[tok.pc](st, tok, 1)
        st.steps += n
        left -= n
        if st.status in FINAL:
            return st.status
        if st.current is not None:
            # re-pick before the next step
            st.ready.append(st.current)
            st.current = None
    return _settle(st)


def _pick(st: ExecState) -> Token | None:
    """The preemptive loop's next token: the scheduler chooses among the live ready ones."""
    ready = st.ready
    while ready:
        if len(ready) > 1:
            live = [t for t in ready if t.alive]
            if len(live) != len(ready):
                ready.clear()
                ready.extend(live)
                continue
            i = st.choose(len(ready), "token", None)
            tok = ready[i]
            ready[i] = ready[-1]
            ready.pop()
        else:
            tok = ready.pop()
        if tok.alive and tok.wait is None:
            return tok
    return None


def _settle(st: ExecState) -> Status:
    """The status once the loop stopped: running, blocked, or done (no live token)."""
    ready = st.ready
    if st.current is not None or (ready and any(t.alive and t.wait is None for t in ready)):
        st.status = Status.RUNNING
    elif st.tokens:
        st.status = Status.BLOCKED
        st.epoch += 1
    else:
        st.finish()
    return st.status
