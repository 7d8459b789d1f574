"""Diagrams of terms (wftrio.graph): the graph model per constructor, and the
Mermaid and dot texts built from it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given

import wftrio as wf
from wftrio.graph import Diagram, Edge, diagram, to_dot, to_mermaid
from wftrio.terms import Task, walk
from wftrio.testing.strategies import terms


def t(name: str) -> wf.Term:
    return wf.task(name, lambda ctx: None)


async def fetch(ctx: Mapping[str, Any]) -> None:
    return None


def paid(ctx: Mapping[str, Any]) -> bool:
    return True


def ids(d: Diagram, label: str) -> str:
    (node,) = [n for n in d.nodes if n.label == label]
    return node.id


def edge(d: Diagram, src: str, dst: str) -> Edge:
    (e,) = [e for e in d.edges if e.src == ids(d, src) and e.dst == ids(d, dst)]
    return e


def succ(d: Diagram, label: str) -> list[tuple[str, str]]:
    """(label of target, edge label) for every edge leaving node ``label``."""
    src = ids(d, label)
    return [(d.node(e.dst).label, e.label) for e in d.edges if e.src == src]


def test_sequence_is_a_chain_from_start_to_end() -> None:
    d = diagram(wf.seq(t("a"), t("b"), t("c")))
    assert d.labels() == ["start", "a", "b", "c", "end"]
    assert [(d.node(e.src).label, d.node(e.dst).label) for e in d.edges] == [
        ("a", "b"),
        ("b", "c"),
        ("start", "a"),
        ("c", "end"),
    ]
    assert d.clusters == ()
    assert d.labels("task") == ["a", "b", "c"]


def test_par_is_a_split_and_a_join_gateway() -> None:
    d = diagram(wf.seq(wf.par(t("a"), t("b")), t("after")))
    assert d.labels("gateway") == ["par", "all"]
    assert succ(d, "par") == [("a", ""), ("b", "")]
    assert succ(d, "a") == [("all", "")]
    assert succ(d, "b") == [("all", "")]
    assert succ(d, "all") == [("after", "")]


@pytest.mark.parametrize(
    ("policy", "label"),
    [
        (wf.first(1), "first(1)"),
        (wf.first(2, cancel_rest=True), "first(2, cancel_rest)"),
        ("sync_merge", "sync merge"),
    ],
)
def test_join_gateway_is_labelled_with_its_policy(policy: Any, label: str) -> None:
    d = diagram(wf.join(policy, t("a"), t("b"), t("c")))
    assert d.labels("gateway") == ["par", label]


def test_choice_labels_branches_with_their_conditions() -> None:
    d = diagram(wf.choice(wf.branch(paid, t("ship")), t("log")))
    assert d.labels("gateway") == ["choice", "sync merge"]
    assert succ(d, "choice") == [("ship", "paid"), ("log", "always")]


def test_xor_labels_conditions_and_default_and_merges() -> None:
    d = diagram(wf.xor(wf.branch(paid, t("ship")), t("remind"), t("cancel")))
    assert d.labels("gateway") == ["xor", "merge"]
    assert succ(d, "xor") == [("ship", "paid"), ("remind", "default"), ("cancel", "default")]
    for alt in ("ship", "remind", "cancel"):
        assert succ(d, alt) == [("merge", "")]


def test_defer_labels_its_triggers() -> None:
    d = diagram(wf.defer(wf.on_signal("coin", t("credit")), wf.after(60, t("timeout"))))
    assert d.labels("gateway") == ["defer", "merge"]
    assert succ(d, "defer") == [("credit", "signal coin"), ("timeout", "after 60s")]


def test_until_loop_has_a_back_edge_after_the_body() -> None:
    d = diagram(wf.seq(wf.loop(t("body"), until=paid), t("after")))
    assert d.labels("gateway") == ["loop", "until paid"]
    assert succ(d, "loop") == [("body", "")]
    assert succ(d, "body") == [("until paid", "")]
    back = edge(d, "until paid", "loop")
    assert back.back
    assert back.label == "false"
    assert succ(d, "until paid") == [("loop", "false"), ("after", "true")]


def test_while_loop_tests_before_the_body() -> None:
    d = diagram(wf.seq(wf.loop(t("body"), while_=paid), t("after")))
    assert succ(d, "loop") == [("while paid", "")]
    assert succ(d, "while paid") == [("body", "true"), ("after", "false")]
    assert edge(d, "body", "loop").back


def test_times_loop() -> None:
    d = diagram(wf.loop(t("body"), times=3))
    assert succ(d, "times=3") == [("loop", "again"), ("end", "done")]
    assert edge(d, "times=3", "loop").back
    assert sum(e.back for e in d.edges) == 1


def test_region_is_a_cluster_with_a_dashed_compensation_edge() -> None:
    d = diagram(
        wf.seq(
            wf.region("pay", wf.seq(t("charge"), t("receipt")), compensate=t("refund")),
            t("after"),
        )
    )
    (c,) = d.clusters
    assert (c.label, c.kind, c.parent) == ("region pay", "region", None)
    assert [n.label for n in d.nodes if n.cluster == c.id] == ["charge", "receipt"]
    assert d.node(ids(d, "refund")).cluster is None
    (cancel,) = [e for e in d.edges if e.from_cluster]
    assert (cancel.src, d.node(cancel.dst).label) == (c.id, "refund")
    assert cancel.dashed
    assert cancel.label == "on cancel"
    # completing or compensating, control goes on after the region
    assert succ(d, "receipt") == [("after", "")]
    assert succ(d, "refund") == [("after", "")]


def test_region_without_compensation_continues_after_it_when_cancelled() -> None:
    d = diagram(wf.seq(wf.region("r", t("work")), t("after")))
    (c,) = d.clusters
    (cancel,) = [e for e in d.edges if e.from_cluster]
    assert (cancel.src, d.node(cancel.dst).label, cancel.label) == (c.id, "after", "cancelled")


def test_nested_regions_nest_their_clusters() -> None:
    d = diagram(wf.region("outer", wf.seq(t("a"), wf.region("inner", t("b")))))
    outer, inner = d.clusters
    assert (outer.label, outer.parent) == ("region outer", None)
    assert (inner.label, inner.parent) == ("region inner", outer.id)
    assert d.node(ids(d, "a")).cluster == outer.id
    assert d.node(ids(d, "b")).cluster == inner.id


def test_mi_of_one_task_is_a_marked_node() -> None:
    d = diagram(wf.mi(t("price"), items=[1, 2, 3], collect="prices"))
    (node,) = d.labels("mi")
    assert node == "price ≡ mi(items=3, join=all, collect=prices)"
    assert d.labels("task") == []


def test_mi_of_a_composite_body_is_a_marked_cluster() -> None:
    d = diagram(wf.mi(wf.seq(t("a"), t("b")), count=2, join="none"))
    (c,) = d.clusters
    assert (c.kind, c.label) == ("mi", "≡ mi(count=2, join=none)")
    assert [n.label for n in d.nodes if n.cluster == c.id] == ["a", "b"]


def test_signals_effects_and_terminate_have_their_own_shapes() -> None:
    d = diagram(
        wf.seq(
            wf.task("fetch", fetch),
            wf.wait_signal("paid", store_as="payment"),
            wf.xor(wf.branch(paid, wf.terminate()), t("go_on")),
        )
    )
    assert d.labels("effect") == ["fetch"]
    assert d.labels("event") == ["wait signal paid → payment"]
    assert d.labels("terminate") == ["terminate"]
    assert succ(d, "terminate") == []  # nothing follows a terminate
    assert succ(d, "go_on") == [("merge", "")]


def test_diagram_rejects_what_is_not_a_term() -> None:
    with pytest.raises(wf.TermTypeError, match="expected a workflow term, got str"):
        diagram("seq")  # type: ignore[arg-type]


TERM = wf.seq(
    wf.task("a", lambda ctx: None),
    wf.region("r", wf.par(wf.task("fetch", fetch), wf.wait_signal("s")), compensate=t("undo")),
    wf.mi(wf.seq(t("x"), t("y")), count=2),
    wf.loop(wf.defer(wf.on_signal("coin", t("credit")), wf.after(1, t("late"))), until=paid),
)


def test_mermaid_declares_nodes_in_their_subgraphs_before_any_edge() -> None:
    text = to_mermaid(TERM)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    first_edge = next(i for i, ln in enumerate(lines) if "-->" in ln or "-.->" in ln)
    declared = [
        ln.split("[")[0].split("(")[0].split("{")[0].split(">")[0].strip()
        for ln in lines[1:first_edge]
        if ln.strip().startswith("n")
    ]
    assert sorted(declared) == sorted(n.id for n in diagram(TERM).nodes)
    assert text.count("subgraph ") == text.count("\n    end\n") + text.count("\n        end\n")
    block = text[text.index('subgraph c0["region r"]') : text.index("    end\n")]
    assert '"fetch"' in block
    assert '"wait signal s"' in block
    assert '"undo"' not in block
    assert '["#lt;lambda#gt;"]' not in text  # lambdas are not task names here
    assert 'n1["a"]' in text
    assert '(["fetch"])' in text  # an effect is a stadium
    assert 'c0 -.->|"on cancel"|' in text
    assert "classDef effect" in text


def test_mermaid_escapes_quotes_and_angle_brackets() -> None:
    text = to_mermaid(wf.xor(wf.branch(lambda ctx: True, t('say "hi"')), t("<b>")))
    assert "say #quot;hi#quot;" in text
    assert '"#lt;b#gt;"' in text
    assert '|"#lt;lambda#gt;"|' in text


def test_dot_is_a_digraph_with_clusters_and_compound_edges() -> None:
    text = to_dot(TERM)
    assert text.startswith("digraph workflow {\n")
    assert text.endswith("}\n")
    assert text.count("{") == text.count("}")
    assert "compound=true;" in text
    assert text.count("subgraph cluster_") == 2
    assert 'label="region r";' in text
    assert "style=dashed;" in text
    assert 'label="≡ mi(count=2, join=all)";' in text
    assert re.search(r'n\d+ -> n\d+ \[ltail=cluster_c0, label="on cancel", style=dashed\];', text)
    assert re.search(r'n\d+ -> n\d+ \[label="false", constraint=false\];', text)
    assert 'label="say \\"hi\\""' in to_dot(t('say "hi"'))


@given(terms(effects=True, valid=False))
def test_every_term_draws_consistently(term: wf.Term) -> None:
    d = diagram(term)
    node_ids = {n.id for n in d.nodes}
    cluster_ids = {c.id for c in d.clusters}
    assert len(node_ids) == len(d.nodes)
    assert d.labels("start") == ["start"]
    assert d.labels("end") == ["end"]
    for e in d.edges:
        assert e.dst in node_ids
        assert e.src in (cluster_ids if e.from_cluster else node_ids)
    # every task of the term is drawn (a lone mi task as a marked node)
    tasks = sorted(n.name for _, n in walk(term) if isinstance(n, Task))
    drawn = sorted(
        [n.label for n in d.nodes if n.shape in ("task", "effect")]
        + [n.label.split(" ≡ ")[0] for n in d.nodes if n.shape == "mi"]
    )
    assert drawn == tasks
    assert len(d.clusters) == len(term.region_ids) + sum(1 for c in d.clusters if c.kind == "mi")
    mermaid = to_mermaid(d)
    for n in d.nodes:
        assert re.search(rf"^\s+{n.id}[\[\(\{{>]", mermaid, re.M), n
    assert mermaid.count("subgraph ") == len(d.clusters)
    dot = to_dot(d)
    assert dot.count("subgraph cluster_") == len(d.clusters)
