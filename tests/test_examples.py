"""The examples under examples/ run on the real runtime and do what they say.

Each example is run twice: as a script in a subprocess (what a user types)
and imported, its scenarios run here so their traces and final ctx can be
checked event by event.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import wftrio as wf
from wftrio.cli import main as cli_main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = (
    "vending_machine",
    "discriminator",
    "multiple_instances",
    "cancel_region",
    "order_fulfilment",
)
SCENARIOS = {
    "vending_machine": 4,
    "discriminator": 3,
    "multiple_instances": 1,
    "cancel_region": 2,
    "order_fulfilment": 4,
}


@pytest.fixture(scope="module")
def examples() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in NAMES}
    finally:
        sys.path.remove(str(EXAMPLES))
        for name in NAMES:
            sys.modules.pop(name, None)


def kinds(result: wf.CaseResult, kind: str) -> list[wf.TraceEvent]:
    return [ev for ev in result.trace if ev.kind == kind]


def task_names(result: wf.CaseResult) -> list[str]:
    return [str(ev.name) for ev in result.trace if ev.kind == "task_completed"]


def seq_of(result: wf.CaseResult, kind: str, name: str) -> int:
    (ev,) = [ev for ev in result.trace if ev.kind == kind and ev.name == name]
    return ev.seq


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
    # one line per event: every case prints its start, its completion and a summary
    started = sum("case_started" in line for line in lines)
    assert started == SCENARIOS[name]
    assert sum("case_completed" in line for line in lines) == started
    assert sum(line.startswith("│ state") and "done" in line for line in lines) == started


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_through_the_command_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``wftrio run examples/NAME.py`` runs WORKFLOW with the module's CTX and SIGNALS."""
    assert cli_main(["run", str(EXAMPLES / f"{name}.py")]) == 0
    out = capsys.readouterr().out
    assert "case_completed" in out
    assert "│ state    │ done" in out


@pytest.mark.parametrize("name", NAMES)
def test_example_exposes_its_workflow(examples: dict[str, ModuleType], name: str) -> None:
    workflow = examples[name].WORKFLOW
    assert isinstance(workflow, wf.Term)
    assert wf.compile(workflow).instrs


def test_vending_machine_pays_and_gives_change(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    result = vm.run_scenario("tea, change due")
    assert result.state == "done"
    assert task_names(result) == ["select", "credit_50", "credit_100", "dispense", "give_change"]
    assert result.ctx == {
        "product": "tea",
        "price": 100,
        "credit": 0,
        "cancelled": False,
        "dispensed": "tea",
        "change": 50,
    }
    # one deferred choice per coin, won by the coin's signal; the xor took its default
    picks = [ev.data for ev in kinds(result, "choice")]
    assert picks == [
        {"by": "signal", "picked": 0},
        {"by": "signal", "picked": 1},
        {"by": "default", "picked": 1},
    ]
    # the coins arrived at 1 s and 2 s of virtual time
    assert [ev.time for ev in kinds(result, "signal_received")] == [1.0, 2.0]


def test_vending_machine_cancel_refunds(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    result = vm.run_scenario("coffee, cancelled")
    assert task_names(result) == ["select", "credit_50", "cancel", "refund"]
    assert result.ctx["refunded"] == 50
    assert result.ctx["credit"] == 0
    assert "dispensed" not in result.ctx
    assert not kinds(result, "timer_fired")


def test_vending_machine_times_out(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    result = vm.run_scenario("coffee, customer walks away")
    assert task_names(result) == ["select", "credit_100", "timeout", "refund"]
    assert result.ctx["refunded"] == 100
    (fired,) = kinds(result, "timer_fired")
    # the coin came at 5 s and re-armed the 60 s timer: it fired at 65 s (virtual)
    assert fired.time == 65.0
    started = kinds(result, "timer_started")
    assert len(started) == 2
    assert started[1].data["tid"] == fired.data["tid"] != started[0].data["tid"]


def test_vending_machine_exact_money(examples: dict[str, ModuleType]) -> None:
    vm = examples["vending_machine"]
    result = vm.run_scenario("coffee, exact money")
    assert task_names(result) == ["select", "credit_100", "credit_50", "dispense", "give_change"]
    assert result.ctx["change"] == 0
    assert result.ctx["dispensed"] == "coffee"


def test_blocking_discriminator_absorbs_late_replies(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    result = ex.run_scenario("blocking discriminator")
    assert result.state == "done"
    names = [ev.kind if ev.kind != "task_completed" else ev.name for ev in result.trace]
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
    assert result.ctx == {"reply_b": 95, "winner": "b", "price": 95, "reply_c": 99, "reply_a": 90}


def test_cancelling_discriminator_withdraws_the_rest(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    result = ex.run_scenario("cancelling discriminator")
    assert result.state == "done"
    assert task_names(result) == ["ask_a", "ask_b", "ask_c", "use_first_reply"]
    assert len(kinds(result, "token_withdrawn")) == 2
    assert not kinds(result, "join_absorbed")
    # the case finished after the first reply: the other two were never needed
    assert [ev.name for ev in kinds(result, "signal_received")] == ["reply_b"]
    assert result.ctx == {"reply_b": 95, "winner": "b", "price": 95}
    assert ex.WORKFLOW is ex.CANCELLING


def test_partial_join_decides_on_two_of_three(examples: dict[str, ModuleType]) -> None:
    ex = examples["discriminator"]
    result = ex.run_scenario("partial join, 2 out of 3")
    assert task_names(result) == [
        "request_review_ann",
        "request_review_bob",
        "request_review_cy",
        "decide",
    ]
    # decide ran before the third review arrived, which the join then absorbed
    assert seq_of(result, "task_completed", "decide") < seq_of(
        result, "signal_received", "review_cy"
    )
    assert [ev.data["arrived"] for ev in kinds(result, "join_fired")] == [2]
    assert len(kinds(result, "join_absorbed")) == 1
    assert result.ctx["decision"] == "accept"
    assert result.ctx["review_cy"] == "reject"


def test_multiple_instances(examples: dict[str, ModuleType]) -> None:
    ex = examples["multiple_instances"]
    result = ex.run_scenario()
    assert result.state == "done"
    assert task_names(result) == [
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
    signals = [ev.seq for ev in kinds(result, "signal_received")]
    assert seq_of(result, "task_completed", "ship") < min(signals)
    # instance-local data stays out of the case ctx; results are collected in item order
    assert result.ctx == {
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


def test_cancel_region_cancels_effects_in_flight_and_cleans_up(
    examples: dict[str, ModuleType],
) -> None:
    ex = examples["cancel_region"]
    result, stats, agency = ex.run_scenario(3.0)
    assert result.state == "done"
    # the sibling branch finished (2 s) before the cancellation (3 s) ...
    assert task_names(result) == [
        "plan",
        "check_visa",
        "record_visa",
        "search_cancelled",
        "summarise",
    ]
    cancelled_at = seq_of(result, "region_cancelled", "search")
    assert seq_of(result, "task_completed", "record_visa") < cancelled_at
    # ... both holds were in flight and cancelled, never applied
    assert sorted(str(ev.name) for ev in kinds(result, "effect_cancelled")) == [
        "hold_flight",
        "hold_hotel",
    ]
    assert all(ev.seq > cancelled_at for ev in kinds(result, "effect_cancelled"))
    assert {ev.scope for ev in kinds(result, "effect_cancelled")} == {"search"}
    assert stats.effects_cancelled == 2
    assert stats.effects_completed == 1
    # the compensation ran, then the par counted the region as arrived
    fired = kinds(result, "join_fired")[-1]
    assert fired.data == {"arrived": 2, "of": 2}
    assert result.ctx == {
        "traveller": "Ada",
        "destination": "Lisbon",
        "plan": "Ada to Lisbon",
        "visa": "not required",
        "documents": "ready",
        "search": "cancelled",
        "summary": "Ada to Lisbon: booked nothing",
    }
    # the effects' cleanup ran at the suppliers: nothing is left held or confirmed
    assert agency.holds == set()
    assert agency.confirmed == set()
    released = [(at, what) for at, what in agency.log if what.startswith("released")]
    assert released == [
        (3.0, "released flight seat in Lisbon (cleanup after cancellation)"),
        (3.5, "released hotel room in Lisbon (cleanup after cancellation)"),
    ]
    # the case is over only once the hotel's shielded release has finished
    assert result.trace[-1].time == 3.5


def test_cancel_region_left_alone_books_both(examples: dict[str, ModuleType]) -> None:
    ex = examples["cancel_region"]
    result, stats, agency = ex.run_scenario(None)
    assert result.state == "done"
    assert not kinds(result, "effect_cancelled")
    assert not kinds(result, "region_cancelled")
    assert "search_cancelled" not in task_names(result)
    assert result.ctx["summary"] == "Ada to Lisbon: booked flight, hotel"
    assert agency.confirmed == {"flight seat in Lisbon", "hotel room in Lisbon"}
    assert stats.effects_completed == 3


def test_cancel_region_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    target = str(EXAMPLES / "cancel_region.py")
    assert cli_main(["run", target, "--cancel-region", "search@3"]) == 0
    out = capsys.readouterr().out
    assert "region_cancelled" in out
    assert out.count("effect_cancelled") == 2
    assert "2 cancelled" in out


def test_order_fulfilment_approved_and_shipped(examples: dict[str, ModuleType]) -> None:
    ex = examples["order_fulfilment"]
    result, shop = ex.run_scenario("approved and shipped")
    assert result.state == "done"
    assert task_names(result) == [
        "receive_order",
        "record_approval",
        "reserve_stock",
        "quote_dhl",
        "quote_ups",
        "choose_carrier",
        "charge_card",
        "book_shipment",
        "confirm",
        "close_order",
    ]
    # the approval point waited for the manager's signal at 1 s
    (decided,) = [
        e for e in result.trace if e.kind == "task_completed" and e.name == "record_approval"
    ]
    assert decided.time == 1.0
    # partial join of quotes: the two fastest carriers, the slow one cancelled
    (quotes_fired,) = [e for e in kinds(result, "join_fired") if e.data["of"] == 3]
    assert quotes_fired.data == {"arrived": 2, "of": 3}
    assert [e.name for e in kinds(result, "effect_cancelled")] == ["quote_fedex"]
    # the charge: attempt 1 timed out (5 s), attempt 2 failed, attempt 3 succeeded
    retries = [e.data for e in kinds(result, "effect_retry") if e.name == "charge_card"]
    assert [(r["attempt"], r["error_type"]) for r in retries] == [
        (1, "EffectTimeout"),
        (2, "GatewayError"),
    ]
    (charged,) = [e for e in kinds(result, "effect_completed") if e.name == "charge_card"]
    assert charged.data["attempts"] == 3
    assert (charged.data["started"], charged.data["ended"]) == (4.5, 13.5)
    # the customer's cancellation wait was withdrawn when fulfilment won
    assert not kinds(result, "signal_consumed")[1:]
    ctx = result.ctx
    assert (ctx["status"], ctx["carrier"], ctx["shipping"]) == ("shipped", "ups", 9.9)
    assert (ctx["charged"], ctx["tracking"], ctx["closed"]) == (640, "UPS-A-17", True)
    assert ctx["approval"] == {"by": "maria", "approved": True, "note": None}
    assert ctx["approved_by"] == "maria"
    assert "refunded" not in ctx
    assert shop.charged == {"A-17": 640}
    assert shop.bookings == ["UPS-A-17"]
    assert shop.reserved == {"kettle": 2, "espresso": 1}


def test_order_fulfilment_customer_cancels(examples: dict[str, ModuleType]) -> None:
    ex = examples["order_fulfilment"]
    result, shop = ex.run_scenario("customer cancels while the parcel is booked")
    assert result.state == "done"
    names = task_names(result)
    assert names[-2:] == ["charge_card", "refund_and_release"]
    assert "book_shipment" not in names
    assert "confirm" not in names
    # the customer's signal won the race: the region's booking effect was cancelled
    cancel_at = seq_of(result, "signal_consumed", "customer_cancel")
    (booking,) = [e for e in kinds(result, "effect_cancelled") if e.name == "book_shipment"]
    assert booking.seq > cancel_at
    assert booking.scope == "fulfilment"
    assert booking.time == 14.0
    # then the compensation refunded the charge and released the stock
    assert result.ctx["cancel_reason"] == "found it cheaper"
    assert (result.ctx["status"], result.ctx["refunded"]) == ("cancelled", 640)
    assert shop.charged == {}
    assert shop.bookings == []
    assert shop.reserved == {"kettle": 0, "espresso": 0}
    assert (14.0, "booking with ups withdrawn (cleanup)") in shop.log


def test_order_fulfilment_rejected(examples: dict[str, ModuleType]) -> None:
    ex = examples["order_fulfilment"]
    result, shop = ex.run_scenario("rejected by the manager")
    assert result.state == "done"
    assert task_names(result) == ["receive_order", "notify_rejection"]
    assert [e.kind for e in result.trace if e.kind == "terminated"] == ["terminated"]
    assert result.ctx["status"] == "rejected"
    assert result.ctx["approval"]["note"] == "customer over credit limit"
    assert shop.log == []


def test_order_fulfilment_small_order_needs_no_approval(examples: dict[str, ModuleType]) -> None:
    ex = examples["order_fulfilment"]
    result, shop = ex.run_scenario("small order, no approval needed")
    assert task_names(result)[:2] == ["receive_order", "auto_approve"]
    assert not kinds(result, "effect_retry")
    assert (result.ctx["status"], result.ctx["total"]) == ("shipped", 80)
    assert shop.bookings == ["UPS-B-3"]


def test_order_fulfilment_region_cancelled_by_an_operator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = str(EXAMPLES / "order_fulfilment.py")
    assert cli_main(["run", target, "--cancel-region", "fulfilment@8", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"region_cancelled\s+fulfilment", out)
    assert re.search(r"effect_cancelled\s+charge_card", out)  # mid-retry
    assert re.search(r"task_completed\s+refund_and_release", out)
    assert re.search(r"task_completed\s+close_order", out)
