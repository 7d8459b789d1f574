"""The examples under examples/ run on the real engine and do what they say."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wftrio as wf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ("vending_machine", "discriminator", "multiple_instances")


@pytest.fixture(scope="module")
def examples() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in NAMES}
    finally:
        sys.path.remove(str(EXAMPLES))
        for name in (*NAMES, "_driver"):
            sys.modules.pop(name, None)


def kinds(st: Any, kind: str) -> list[wf.TraceEvent]:
    return [ev for ev in st.events if ev.kind == kind]


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_as_a_script(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    # one line per event: every case prints its start and its completion
    started = sum("case_started" in line for line in lines)
    assert started >= 1
    assert sum("case_completed" in line for line in lines) == started
    assert sum(line.startswith("-> done:") for line in lines) == started


@pytest.mark.parametrize("name", NAMES)
def test_example_exposes_its_workflow(examples: dict[str, ModuleType], name: str) -> None:
    workflow = examples[name].WORKFLOW
    assert isinstance(workflow, wf.Term)
    assert wf.compile(workflow).instrs


def test_vending_machine_pays_and_gives_change(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    drv = sys.modules["_driver"]
    ctx, signals = vm.SCENARIOS["tea, change due"]
    st = drv.run_case(vm.WORKFLOW, ctx, signals)
    assert st.status == "done"
    assert drv.task_names(st.events) == [
        "select",
        "credit_50",
        "credit_100",
        "dispense",
        "give_change",
    ]
    assert st.ctx == {
        "product": "tea",
        "price": 100,
        "credit": 0,
        "cancelled": False,
        "dispensed": "tea",
        "change": 50,
    }
    # one deferred choice per coin, won by the coin's signal; the xor took its default
    picks = [ev.data for ev in kinds(st, "choice")]
    assert picks == [
        {"by": "signal", "picked": 0},
        {"by": "signal", "picked": 1},
        {"by": "default", "picked": 1},
    ]


def test_vending_machine_cancel_refunds(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    drv = sys.modules["_driver"]
    ctx, signals = vm.SCENARIOS["coffee, cancelled"]
    st = drv.run_case(vm.WORKFLOW, ctx, signals)
    assert drv.task_names(st.events) == ["select", "credit_50", "cancel", "refund"]
    assert st.ctx["refunded"] == 50
    assert st.ctx["credit"] == 0
    assert "dispensed" not in st.ctx
    assert not kinds(st, "timer_fired")


def test_vending_machine_times_out(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    drv = sys.modules["_driver"]
    ctx, signals = vm.SCENARIOS["coffee, customer walks away"]
    st = drv.run_case(vm.WORKFLOW, ctx, signals)
    assert drv.task_names(st.events) == ["select", "credit_100", "timeout", "refund"]
    assert st.ctx["refunded"] == 100
    (fired,) = kinds(st, "timer_fired")
    assert fired.time == 60.0
    # the first round's timer was withdrawn when the coin won; only the second fired
    assert [ev.data["tid"] for ev in kinds(st, "timer_started")] == [2, fired.data["tid"]]


def test_vending_machine_exact_money(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    drv = sys.modules["_driver"]
    ctx, signals = vm.SCENARIOS["coffee, exact money"]
    st = drv.run_case(vm.WORKFLOW, ctx, signals)
    assert drv.task_names(st.events) == [
        "select",
        "credit_100",
        "credit_50",
        "dispense",
        "give_change",
    ]
    assert st.ctx["change"] == 0
    assert st.ctx["dispensed"] == "coffee"


def test_blocking_discriminator_absorbs_late_replies(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    drv = sys.modules["_driver"]
    st = drv.run_case(ex.BLOCKING, {}, ex.REPLIES)
    assert st.status == "done"
    names = [ev.kind if ev.kind != "task_completed" else ev.name for ev in st.events]
    assert [n for n in names if n in {"ask_a", "ask_b", "ask_c", "use_first_reply"}] == [
        "ask_a",
        "ask_b",
        "ask_c",
        "use_first_reply",
    ]
    # the join fires once, on reply_b; the two later replies are absorbed after the
    # continuation has already run
    fired = names.index("join_fired")
    assert names.index("use_first_reply") == fired + 1
    assert names.count("join_fired") == 1
    assert names.count("join_absorbed") == 2
    assert fired < names.index("join_absorbed")
    assert st.ctx == {"reply_b": 95, "winner": "b", "price": 95, "reply_c": 99, "reply_a": 90}


def test_cancelling_discriminator_withdraws_the_rest(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    drv = sys.modules["_driver"]
    st = drv.run_case(ex.CANCELLING, {}, ex.REPLIES)
    assert st.status == "done"
    assert drv.task_names(st.events) == ["ask_a", "ask_b", "ask_c", "use_first_reply"]
    assert len(kinds(st, "token_withdrawn")) == 2
    assert not kinds(st, "join_absorbed")
    # the case finished after the first reply: the other two were never needed
    assert [ev.name for ev in kinds(st, "signal_received")] == ["reply_b"]
    assert st.ctx == {"reply_b": 95, "winner": "b", "price": 95}
    assert ex.WORKFLOW is ex.CANCELLING


def test_partial_join_decides_on_two_of_three(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    drv = sys.modules["_driver"]
    st = drv.run_case(ex.PARTIAL, {}, ex.REVIEWS)
    assert drv.task_names(st.events) == [
        "request_review_ann",
        "request_review_bob",
        "request_review_cy",
        "decide",
    ]
    seqs = {(ev.kind, ev.name): ev.seq for ev in st.events}
    # decide ran before the third review arrived, which the join then absorbed
    assert seqs[("task_completed", "decide")] < seqs[("signal_received", "review_cy")]
    assert [ev.data["arrived"] for ev in kinds(st, "join_fired")] == [2]
    assert len(kinds(st, "join_absorbed")) == 1
    assert st.ctx["decision"] == "accept"
    assert st.ctx["review_cy"] == "reject"


def test_multiple_instances(examples: dict[str, ModuleType]) -> None:
    ex = examples["multiple_instances"]
    drv = sys.modules["_driver"]
    st = drv.run_case(ex.WORKFLOW, ex.CTX, ex.SIGNALS)
    assert st.status == "done"
    assert drv.task_names(st.events) == [
        "price_line",
        "add_tax",
        "price_line",
        "add_tax",
        "total",
        "print_invoice",
        "print_invoice",
        "notify",
        "notify",
        "ship",
    ]
    # without synchronisation the order shipped before any confirmation arrived
    seqs = [ev.seq for ev in st.events if ev.kind == "signal_received"]
    (ship,) = [ev.seq for ev in st.events if ev.name == "ship"]
    assert ship < min(seqs)
    # instance-local data stays out of the case ctx; results are collected in item order
    assert st.ctx == {
        "lines": ex.CTX["lines"],
        "priced": [
            {"sku": "kettle", "net": 40, "gross": 48},
            {"sku": "mug", "net": 20, "gross": 24},
        ],
        "total": 72,
        "copies": [
            {"copy": "invoice copy 1, total 72"},
            {"copy": "invoice copy 2, total 72"},
        ],
        "shipped": True,
        "confirmations": [
            {"notified": "buyer", "confirmation": "buyer ok"},
            {"notified": "accounts", "confirmation": "accounts ok"},
        ],
    }
