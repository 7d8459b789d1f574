"""The workflow registry (wftrio.registry): workflows by name and version."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.engine import program_fingerprint
from wftrio.errors import OptionError
from wftrio.registry import default_registry


def order(step: str = "ship") -> wf.Term:
    return wf.seq(wf.task("reserve", lambda ctx: {"reserved": True}), wf.task(step, _ship))


def _ship(ctx: Any) -> dict[str, Any]:
    return {"shipped": ctx.get("sku")}


def fingerprint(term: wf.Term) -> str:
    return program_fingerprint(wf.compile(term))


def test_register_keeps_name_version_term_program_and_fingerprint() -> None:
    reg = wf.Registry()
    term = order()
    entry = reg.register("order", term, version=1)
    assert (entry.name, entry.version, entry.term) == ("order", 1, term)
    assert entry.program is wf.compile(term)
    assert entry.fingerprint == program_fingerprint(entry.program)
    assert reg.get("order") is entry
    assert reg.names() == ("order",)
    assert reg.versions("order") == (1,)
    assert "order" in reg
    assert len(reg) == 1
    assert list(reg) == [entry]


def test_decorator_registers_the_returned_term_and_returns_the_function() -> None:
    reg = wf.Registry()
    term = order()
    calls = []

    @reg.workflow("order", version=2)
    def make() -> wf.Term:
        calls.append(1)
        return term

    assert calls == [1]  # built once, at registration
    assert reg.get("order", 2).term is term
    assert make() is term  # the function itself, unchanged
    assert reg.versions("order") == (2,)


def test_module_level_decorator_and_register_fill_the_default_registry() -> None:
    term = order()

    @wf.workflow("test-registry-default", version=1)
    def make() -> wf.Term:
        return term

    entry = wf.register("test-registry-default", order("deliver"), version=2)
    assert default_registry.get("test-registry-default") is entry
    assert default_registry.get("test-registry-default", 1).fingerprint == fingerprint(term)


def test_newest_version_is_the_highest_and_explicit_versions_are_kept() -> None:
    reg = wf.Registry()
    v3 = reg.register("order", order("deliver"), version=3)
    v1 = reg.register("order", order(), version=1)
    assert reg.get("order") is v3
    assert reg.get("order", version=1) is v1
    assert reg.versions("order") == (1, 3)


def test_unknown_name_or_version_lists_what_is_registered() -> None:
    reg = wf.Registry()
    reg.register("order", order(), version=1)
    reg.register("order", order("deliver"), version=2)
    reg.register("refund", order("refund"))
    with pytest.raises(wf.UnknownWorkflow) as info:
        reg.get("ordr")
    msg = str(info.value)
    assert "workflow 'ordr' is not registered" in msg
    assert "'order' (versions 1, 2); 'refund' (versions 1)" in msg
    assert isinstance(info.value, LookupError)
    assert info.value.known == {"order": (1, 2), "refund": (1,)}
    with pytest.raises(wf.UnknownWorkflow, match="workflow 'order' version 7 is not registered"):
        reg.get("order", 7)
    with pytest.raises(wf.UnknownWorkflow, match="registered workflows: none"):
        wf.Registry().get("order")
    assert reg.versions("nope") == ()


def test_same_fingerprint_again_is_a_no_op() -> None:
    reg = wf.Registry()
    first = reg.register("order", order(), version=1)
    # a new term with the same structure (its functions are not fingerprinted)
    again = reg.register("order", order(), version=1)
    assert again is first
    assert len(reg) == 1


def test_other_fingerprint_for_a_registered_version_is_refused() -> None:
    reg = wf.Registry()
    first = reg.register("order", order(), version=1)
    changed = order("deliver")
    with pytest.raises(wf.DuplicateWorkflow) as info:
        reg.register("order", changed, version=1)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.name, err.version) == ("order", 1)
    assert err.registered_fingerprint == first.fingerprint
    assert err.new_fingerprint == fingerprint(changed)
    assert "as a new version (e.g. version=2)" in str(err)
    assert reg.get("order") is first  # unchanged

    def make() -> wf.Term:
        return changed

    with pytest.raises(wf.DuplicateWorkflow):
        reg.workflow("order", version=1)(make)
    assert reg.get("order") is first


def test_check_passes_the_registered_fingerprint_and_refuses_another() -> None:
    reg = wf.Registry()
    entry = reg.register("order", order(), version=1)
    assert reg.check("order", 1, entry.fingerprint) is entry
    with pytest.raises(wf.WorkflowVersionMismatch) as info:
        reg.check("order", 1, "5:0123456789abcdef0123")
    err = info.value
    assert (err.name, err.version) == ("order", 1)
    assert err.expected_fingerprint == "5:0123456789abcdef0123"
    assert err.found_fingerprint == entry.fingerprint
    assert "side by side" in str(err)
    assert "version 1" in str(err)
    with pytest.raises(wf.UnknownWorkflow):
        reg.check("order", 2, entry.fingerprint)
    with pytest.raises(wf.RegistrationTypeError, match="fingerprint must be a str"):
        reg.check("order", 1, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda r: r.register(1, order()), wf.RegistrationTypeError, "name must be a str"),
        (lambda r: r.register("", order()), wf.RegistrationError, "name must be a non-empty"),
        (lambda r: r.register("o", order(), version=0), wf.RegistrationError, "version must"),
        (lambda r: r.register("o", order(), version=-1), wf.RegistrationError, "version must"),
        (lambda r: r.register("o", order(), version=1.0), wf.RegistrationTypeError, "version"),
        (lambda r: r.register("o", order(), version=True), wf.RegistrationTypeError, "version"),
        (lambda r: r.register("o", "seq"), wf.RegistrationTypeError, "term must be a workflow"),
        (lambda r: r.register("o", lambda: order()), wf.RegistrationTypeError, "term must"),
        (lambda r: r.workflow(None), wf.RegistrationTypeError, r"workflow\(\): name must"),
        (lambda r: r.workflow("o", version=0), wf.RegistrationError, r"workflow\(\): version"),
        (lambda r: r.workflow("o")(42), wf.RegistrationTypeError, "zero-argument function"),
        (lambda r: r.workflow("o")(lambda: 42), wf.RegistrationTypeError, "must return a"),
        (lambda r: r.get(b"o"), wf.RegistrationTypeError, r"get\(\): name must be a str"),
        (lambda r: r.get("o", "1"), wf.RegistrationTypeError, r"get\(\): version"),
        (lambda r: r.versions(3), wf.RegistrationTypeError, r"versions\(\): name"),
    ],
)
def test_bad_arguments_raise_typed_errors_and_change_nothing(
    call: Any, error: type[Exception], text: str
) -> None:
    reg = wf.Registry()
    reg.register("o", order("o"))
    with pytest.raises(error, match=text) as info:
        call(reg)
    assert isinstance(info.value, wf.WftrioError)
    assert isinstance(info.value, TypeError if error is wf.RegistrationTypeError else ValueError)
    assert reg.names() == ("o",)
    assert reg.versions("o") == (1,)


async def test_new_case_by_name_runs_and_names_its_workflow() -> None:
    reg = wf.Registry()
    reg.register("order", order(), version=1)
    v2 = reg.register("order", order("deliver"), version=2)
    async with wf.open_substrate(registry=reg) as sub:
        cid = await sub.new_case("order", {"sku": "x"}, case_id="o-1")
        res = await sub.wait(cid)
        assert res.ctx["shipped"] == "x"
        info = sub.status(cid)
        assert (info.workflow, info.workflow_version) == ("order", 2)
        started = res.trace[0]
        assert started.kind == "case_started"
        assert started.data["workflow"] == {
            "name": "order",
            "version": 2,
            "fingerprint": v2.fingerprint,
        }
        old = await sub.new_case("order", {"sku": "y"}, version=1)
        assert (await sub.wait(old)).ctx["shipped"] == "y"
        assert sub.status(old).workflow_version == 1
        # a case started from a term names no workflow
        plain = await sub.new_case(order())
        await sub.wait(plain)
        assert (sub.status(plain).workflow, sub.status(plain).workflow_version) == (None, None)
        assert "workflow" not in sub.events(plain)[0].data


async def test_new_case_by_name_refuses_unknown_names_and_bad_versions() -> None:
    reg = wf.Registry()
    reg.register("order", order())
    async with wf.open_substrate(registry=reg) as sub:
        with pytest.raises(wf.UnknownWorkflow, match="'order' \\(versions 1\\)"):
            await sub.new_case("refund")
        with pytest.raises(wf.UnknownWorkflow):
            await sub.new_case("order", version=2)
        with pytest.raises(OptionError, match="version='1'"):
            await sub.new_case("order", version="1")  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="version=0"):
            await sub.new_case("order", version=0)
        with pytest.raises(OptionError, match="term=''"):
            await sub.new_case("")
        with pytest.raises(OptionError, match="applies to a workflow given by name"):
            await sub.new_case(order(), version=1)
        assert sub.case_ids() == []
    with pytest.raises(OptionError, match="registry="):
        wf.open_substrate(registry={"order": order()})


async def test_substrate_default_registry_is_the_module_one() -> None:
    wf.register("test-registry-substrate", order())
    async with wf.open_substrate() as sub:
        assert sub.registry is default_registry
        cid = await sub.new_case("test-registry-substrate", {"sku": 1})
        assert (await sub.wait(cid)).ctx["shipped"] == 1


def test_wf_run_accepts_a_registered_name() -> None:
    wf.register("test-registry-run", order())
    res = wf.run("test-registry-run", {"sku": "z"})
    assert res.ctx["shipped"] == "z"
    assert res.trace[0].data["workflow"]["name"] == "test-registry-run"


async def test_a_named_case_replays_with_the_same_case_started_event() -> None:
    reg = wf.Registry()
    reg.register("wait", wf.seq(wf.wait_signal("go", store_as="go"), wf.task("ship", _ship)))
    async with wf.open_substrate(registry=reg) as sub:
        cid = await sub.new_case("wait", {"sku": "a"})
        await sub.signal(cid, "go", 1)
        recorded = (await sub.wait(cid)).trace
    async with wf.open_substrate(registry=reg) as sub:
        log = wf.replay_log(recorded)
        again = await sub.new_case("wait", {"sku": "a"}, scheduler=wf.Replay(log))
        with trio.fail_after(5):
            replayed = (await sub.wait(again)).trace
    assert replayed[0].data["workflow"]["name"] == "wait"
    assert [(e.kind, e.name, e.data) for e in replayed] == [
        (e.kind, e.name, e.data) for e in recorded
    ]
