"""The case inbox: batches in order, backpressure, close semantics, cancellation."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from wftrio.runtime import Inbox


async def test_receive_takes_everything_in_order() -> None:
    box = Inbox(8)
    for i in range(3):
        box.send_nowait(i)
    assert len(box) == 3
    assert await box.receive() == [0, 1, 2]
    assert box.receive_nowait() is None


async def test_blocked_receiver_is_woken_by_a_send() -> None:
    box = Inbox(2)
    got: list[list[int]] = []

    async def receiver() -> None:
        got.append(await box.receive())

    async with trio.open_nursery() as n:
        n.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        assert box.statistics().receiver_waiting
        await box.send(7)
    assert got == [[7]]


async def test_send_waits_while_full_and_put_ignores_capacity() -> None:
    box = Inbox(1)
    await box.send("a")
    with pytest.raises(trio.WouldBlock):
        box.send_nowait("b")
    assert box.put("internal")  # children never wait on their case
    done: list[str] = []

    async def sender() -> None:
        await box.send("b")
        done.append("b")

    async with trio.open_nursery() as n:
        n.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert box.statistics().senders_waiting == 1
        assert done == []
        assert await box.receive() == ["a", "internal"]
        await trio.testing.wait_all_tasks_blocked()
        assert done == ["b"]
    assert await box.receive() == ["b"]


async def test_cancelled_send_queues_nothing(autojump_clock: trio.testing.MockClock) -> None:
    box = Inbox(1)
    box.send_nowait("a")
    with trio.move_on_after(0.01):
        await box.send("b")
    assert await box.receive() == ["a"]
    assert box.receive_nowait() is None


async def test_cancelled_receive_loses_nothing() -> None:
    box = Inbox(4)
    box.send_nowait(1)
    with trio.CancelScope() as cs:
        cs.cancel()
        await box.receive()
    assert cs.cancelled_caught
    box.send_nowait(2)
    assert await box.receive() == [1, 2]


async def test_close_refuses_senders_and_returns_the_queue() -> None:
    box = Inbox(1)
    box.send_nowait("queued")
    errors: list[BaseException] = []

    async def sender() -> None:
        try:
            await box.send("blocked")
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    async with trio.open_nursery() as n:
        n.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert box.close() == ["queued"]
    assert len(errors) == 1
    assert box.close() == []
    assert not box.put("late")
    with pytest.raises(trio.ClosedResourceError):
        box.send_nowait("late")


async def test_wake_and_one_receiver_only() -> None:
    box = Inbox(1)
    got: list[list[int]] = []

    async def receiver() -> None:
        got.append(await box.receive())

    async with trio.open_nursery() as n:
        n.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            box.receive()
        box.wake()
    assert got == [[]]
    with pytest.raises(ValueError, match="capacity"):
        Inbox(0)


def test_inbox_messages_are_typed_records_defined_once() -> None:
    import typing

    from wftrio.runtime import _children, _effects, _messages, _runner, _substrate

    kinds = typing.get_args(_messages.Message)
    assert {k.__name__ for k in kinds} == {
        "Signal",
        "EffectOutcome",
        "EffectEscaped",
        "EffectRetry",
        "TimerFired",
        "CancelCase",
        "CancelRegion",
    }
    sig = _messages.Signal("go", {"n": 1}, False)
    assert (sig.name, sig.payload, sig.transient) == ("go", {"n": 1}, False)
    with pytest.raises(AttributeError):
        sig.name = "other"  # type: ignore[misc]
    # no int tags kept equal by hand in several modules any more
    for mod in (_children, _effects, _runner, _substrate):
        for tag in ("SIGNAL", "EFFECT", "TIMER", "CANCEL", "CANCEL_REGION", "RETRY"):
            assert not isinstance(getattr(mod, tag, None), int), (mod.__name__, tag)


async def test_a_parked_receiver_is_resumed_with_the_first_item() -> None:
    box = Inbox(2)
    batches: list[list[str]] = []
    assert box.park(batches.append)
    assert box.parked
    assert box.statistics().receiver_waiting  # as a blocked receiver
    with pytest.raises(trio.BusyResourceError):
        box.park(batches.append)
    await box.send("a")  # resumed in the sender, with a batch of one
    assert batches == [["a"]]
    assert not box.parked
    await box.send("b")  # later items queue until the receiver takes them
    assert batches == [["a"]]
    assert box.receive_nowait() == ["b"]
    assert box.park(batches.append)
    assert box.put("internal")
    assert batches == [["a"], ["internal"]]


async def test_park_refuses_while_items_are_queued_or_closed() -> None:
    box = Inbox(2)
    box.send_nowait(1)
    assert not box.park(lambda batch: None)
    assert not box.parked
    assert box.receive_nowait() == [1]
    box.close()
    assert not box.park(lambda batch: None)


async def test_wake_resumes_a_parked_receiver_and_close_drops_it() -> None:
    box = Inbox(2)
    batches: list[list[int]] = []
    assert box.park(batches.append)
    box.wake()
    assert batches == [[]]
    assert box.park(batches.append)
    assert box.unpark() == batches.append
    assert box.unpark() is None
    assert box.park(batches.append)
    assert box.close() == []
    assert batches == [[]]  # dropped, not resumed
    assert not box.parked
    with pytest.raises(trio.ClosedResourceError):
        await box.send(1)
