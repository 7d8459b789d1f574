"""Smoke test of ``python -m wftrio.bench``: it runs and reports every figure.

No timing is asserted (timings depend on the machine); the tests check that
each figure is measured with the real engine and reported with its keys,
that every row says whether its baseline does the same work, and that
``--compare`` sets a run beside an earlier one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wftrio import bench
from wftrio.cli import main as cli_main

FIGURE_KEYS = {
    "id",
    "title",
    "measured",
    "baseline",
    "unit",
    "ratio",
    "target",
    "met",
    "equal_work",
}


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    return bench.run_benchmarks(quick=True)


def test_json_output_has_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quick"] is True
    assert list(report["figures"]) == list(bench.FIGURES)
    for name, fig in report["figures"].items():
        assert set(fig) >= FIGURE_KEYS, name
        assert fig["id"] == bench.LABELS[name]


def test_every_figure_is_measured(quick_report: dict[str, Any]) -> None:
    figs = quick_report["figures"]
    for name, fig in figs.items():
        assert fig["measured"] > 0, name
        assert fig["baseline"] > 0, name
        assert math.isclose(fig["ratio"], fig["measured"] / fig["baseline"]), name
        assert fig["met"] in (True, False, None), name
    sizes = bench.SIZES["quick"]
    assert figs["seq"]["n"] == sizes["seq"]
    assert figs["tracing"]["events"] >= sizes["seq"]  # one event per pure task at least
    assert figs["tracing"]["full_read_us"] > 0  # level full with the trace read back
    assert figs["compile"]["nodes_large"] > figs["compile"]["nodes_small"]
    assert figs["run"]["instrs_large"] > figs["run"]["instrs_small"]
    assert figs["waiting"]["cases"] == sizes["waiting"]
    assert figs["waiting"]["signals_per_sec"] > 0
    assert figs["effect"]["n"] == figs["effect_ctx"]["n"] == sizes["effect"]
    assert figs["effect_ctx"]["keys"] == sizes["effect_keys"]
    assert figs["effect_ctx"]["met"] is None  # a scaling row; 9c holds the target
    assert figs["effect_ctx"]["start_ns_per_key"] >= 0
    assert figs["effect_marginal"]["met"] in (True, False)
    assert figs["effect_marginal"]["keys"] == sizes["effect_keys"]
    assert figs["effect_marginal"]["few"] == sizes["effect"] // 10
    assert (figs["waiters"]["small"], figs["waiters"]["large"]) == (
        sizes["waiters_small"],
        sizes["waiters_large"],
    )
    assert figs["small_case"]["cases"] == sizes["small_cases"]
    scale = [sizes["scale_small"], sizes["scale_mid"]]
    assert figs["scale_memory"]["sizes"] == figs["scale_start"]["sizes"] == scale
    assert list(figs["scale_memory"]["bytes_per_case"]) == [str(n) for n in scale]
    assert max(figs["par_width"]["widths"]) == sizes["width_max"]


def test_full_adds_the_largest_sizes() -> None:
    assert bench.FULL_SIZES == {"scale_large": 100_000}
    assert bench.SIZES["full"]["scale_large"] == 0  # not in a default run
    out = bench.run_benchmarks(quick=True, full=True, only=["par_width"])
    assert out["full"] is False  # --full is ignored with --quick


def test_rows_say_when_the_baseline_does_different_work(quick_report: dict[str, Any]) -> None:
    figs = quick_report["figures"]
    differ = {name for name, fig in figs.items() if not fig["equal_work"]}
    assert differ == {
        "par",
        "discriminator",
        "waiting",
        "run_overhead",
        "durable_resume",
        "scaleout_claim",
    }
    for name in differ:
        assert figs[name]["differs"], name
    # and each trio-baseline row has an equal-work row beside it
    assert figs["par_calls"]["equal_work"]
    assert figs["discriminator_calls"]["equal_work"]
    assert figs["par_calls"]["n"] == figs["par"]["n"]
    assert figs["discriminator_calls"]["n"] == figs["discriminator"]["n"]
    table = bench.format_table(quick_report)
    for name in differ:
        assert f"{figs[name]['id']}: the baseline does different work: " in table


def test_durable_rows_measure_sqlite_against_memory(quick_report: dict[str, Any]) -> None:
    figs = quick_report["figures"]
    units = {
        "durable_steps": "steps/s",
        "durable_signals": "signals/s",
        "durable_resume": "s",
        "durable_bytes": "B/case",
    }
    for name, unit in units.items():
        fig = figs[name]
        assert fig["unit"] == unit
        assert fig["measured"] > 0
        assert fig["baseline"] > 0
        assert fig["met"] is None  # reported, no target
    assert figs["durable_resume"]["cases"] == figs["durable_bytes"]["cases"]
    # a stored case holds at least its JSON
    assert figs["durable_bytes"]["ratio"] >= 1


def test_table_lists_every_figure(quick_report: dict[str, Any]) -> None:
    table = bench.format_table(quick_report)
    for fig in quick_report["figures"].values():
        assert f"{fig['id']}. {fig['title']}" in table


def test_only_selects_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--json", "--only", "seq,compile"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["figures"]) == ["seq", "compile"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "nope"], "unknown figure(s) nope"),
        (["--repeat", "0"], "--repeat must be >= 1"),
        (["--compare", "/no/such/base.json"], "cannot read /no/such/base.json"),
    ],
)
def test_mistakes_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_run_benchmarks_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="unknown figure"):
        bench.run_benchmarks(only=["nope"])
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        bench.run_benchmarks(repeat=0)


def test_profile_prints_engine_hot_spots(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--profile", "par"]) == 0
    out = capsys.readouterr().out
    assert "_ops.py" in out
    assert "tottime" in out
    with pytest.raises(ValueError, match="unknown workload"):
        bench.profile("nope")


def test_profile_runs_the_effect_workload_on_a_substrate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--quick", "--profile", "effect"]) == 0
    out = capsys.readouterr().out
    assert "_effects.py" in out


# ---------------------------------------------------------------------------
# --compare

BASELINE: dict[str, Any] = {
    "wftrio_bench": 1,
    "quick": True,
    "repeat": 1,
    "python": "3.11.0",
    "implementation": "CPython",
    "machine": "x86_64",
    "trio": "0.25.0",
    "figures": {
        "seq": {"id": "1", "title": "seq", "measured": 2.0, "ratio": 4.0, "unit": "us/task"},
        "compile": {"id": "5a", "measured": None, "ratio": None},  # NaN in the old run
        "gone": {"id": "9", "measured": 1.0, "ratio": 1.0},
    },
}


def test_compare_sets_each_figure_beside_its_baseline() -> None:
    report = {
        "quick": True,
        "figures": {
            "seq": {"id": "1", "title": "seq", "unit": "us/task", "measured": 1.5, "ratio": 5.0},
            "compile": {"id": "5a", "title": "c", "unit": "us/node", "measured": 1, "ratio": 1},
            "par": {"id": "2", "title": "par", "unit": "us/branch", "measured": 1, "ratio": 1},
        },
    }
    cmp = bench.compare(report, BASELINE)
    assert cmp["seq"] == {"measured": [2.0, 1.5, -25.0], "ratio": [4.0, 5.0, 25.0]}
    assert cmp["compile"]["measured"] == [None, 1.0, None]
    assert cmp["par"]["ratio"] == [None, 1.0, None]
    assert set(cmp) == {"seq", "compile", "par"}
    text = bench.format_compare(report, BASELINE, "base.json")
    (seq_row,) = [ln for ln in text.splitlines() if ln.startswith("1. seq")]
    assert seq_row.split() == ["1.", "seq", "us/task", "2.000", "1.500", "-25.0%"] + [
        "4.000",
        "5.000",
        "+25.0%",
    ]
    assert "2. par (not in the baseline)" in text
    assert "in the baseline, not run now: gone" in text
    assert "compared with base.json" in text


def test_compare_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(BASELINE))
    assert bench.main(["--quick", "--only", "seq", "--compare", str(base)]) == 0
    out = capsys.readouterr().out
    assert f"compared with {base}" in out
    (row,) = [ln for ln in out.splitlines() if ln.startswith("1. ")]
    assert " 2.000 " in row  # the baseline's figure beside today's
    assert "%" in row
    # with --json the comparison is part of the report
    assert bench.main(["--quick", "--only", "seq", "--compare", str(base), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    before, now, change = report["compare"]["figures"]["seq"]["measured"]
    assert before == 2.0
    assert change == pytest.approx((now - 2.0) / 2.0 * 100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not a report of `python -m wftrio.bench --json`"),
        ('{"wftrio_bench": 1, "figures": {"seq": 3}}', "is not a report"),
        ('{"wftrio_bench": 7, "figures": {}}', "is not a report"),
    ],
)
def test_a_bad_baseline_is_one_line(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.json"
    base.write_text(text)
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--compare", str(base)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------
# through the command line


def test_wftrio_bench_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["bench", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wftrio bench")
    assert "--compare BASELINE.json" in out
    assert "--full" in out


def test_wftrio_bench_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["bench", "--quick", "--only", "seq,par_calls"]) == 0
    out = capsys.readouterr().out
    assert "1. seq of 200 pure tasks" in out
    assert "2b. par of 10 pure branches" in out


def test_python_dash_m_wftrio_bench() -> None:
    # the subprocess imports this tree's wftrio, whatever else is installed
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "wftrio.bench", "--quick", "--only", "seq", "--json"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)["figures"]) == ["seq"]


def test_scaleout_rows_measure_1_2_3_workers_and_claim_latency(
    quick_report: dict[str, Any],
) -> None:
    figs = quick_report["figures"]
    for name, unit in (("scaleout_cases", "cases/s"), ("scaleout_signals", "signals/s")):
        fig = figs[name]
        assert fig["unit"] == unit
        assert set(fig["per_workers"]) == {"1", "2", "3"}
        assert all(v > 0 for v in fig["per_workers"].values())
        assert fig["measured"] == fig["per_workers"]["3"]
        assert fig["baseline"] == fig["per_workers"]["1"]
    claim = figs["scaleout_claim"]
    # the dead worker's case is claimed once its lease expired, not before
    assert claim["measured"] > 0
    assert claim["equal_work"] is False
    table = bench.format_table(quick_report)
    assert "cases/s by number of workers: 1: " in table
