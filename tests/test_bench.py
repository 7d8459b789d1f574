"""Smoke test of ``python -m wftrio.bench``: it runs and reports every figure.

No timing is asserted (timings depend on the machine); the test checks that
each figure is measured with the real engine and reported with its keys.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from wftrio import bench

FIGURE_KEYS = {"id", "title", "measured", "baseline", "unit", "ratio", "target", "met"}


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    return bench.run_benchmarks(quick=True)


def test_json_output_has_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quick"] is True
    assert set(report["figures"]) == set(bench.FIGURES)
    for name, fig in report["figures"].items():
        assert set(fig) >= FIGURE_KEYS, name
        assert fig["id"] == bench.LABELS[name]


def test_engine_figures_are_measured(quick_report: dict[str, Any]) -> None:
    figs = quick_report["figures"]
    for name in ("seq", "par", "discriminator", "cancel_region", "compile", "run", "tracing"):
        fig = figs[name]
        assert fig["measured"] > 0, name
        assert fig["baseline"] > 0, name
        assert math.isclose(fig["ratio"], fig["measured"] / fig["baseline"]), name
        assert fig["met"] in (True, False, None), name
    sizes = bench.SIZES["quick"]
    assert figs["seq"]["n"] == sizes["seq"]
    assert figs["tracing"]["events"] >= sizes["seq"]  # one event per pure task at least
    assert figs["compile"]["nodes_large"] > figs["compile"]["nodes_small"]
    assert figs["run"]["instrs_large"] > figs["run"]["instrs_small"]


def test_waiting_cases_figure_is_real_or_marked_unavailable(
    quick_report: dict[str, Any],
) -> None:
    fig = quick_report["figures"]["waiting"]
    if fig["available"]:
        assert fig["measured"] > 0
    else:
        assert math.isnan(fig["measured"])
        assert "n/a (runtime not available)" in bench.format_table(quick_report)


def test_table_lists_every_figure(quick_report: dict[str, Any]) -> None:
    table = bench.format_table(quick_report)
    for fig in quick_report["figures"].values():
        assert f"{fig['id']}. {fig['title']}" in table


def test_only_selects_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--json", "--only", "seq,compile"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["figures"]) == ["seq", "compile"]


def test_rejects_unknown_figure(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--only", "nope"])
    assert exc.value.code == 2
    assert "unknown figure" in capsys.readouterr().err


def test_profile_prints_engine_hot_spots(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--profile", "par"]) == 0
    out = capsys.readouterr().out
    assert "_ops.py" in out
    assert "tottime" in out
