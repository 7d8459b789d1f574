"""Figures as records, and their output: a text table, JSON, a comparison with a baseline run.

A figure is a JSON-able dict: ``title``, ``measured`` and ``baseline`` (in
``unit``), ``ratio`` (measured / baseline), ``target`` and ``met``
(``None`` when the figure has no target), ``equal_work`` (whether the
baseline does the same work as what it is compared with) and, when it does
not, ``differs`` (what differs); plus figure-specific details.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from wftrio.algebra.checks import is_number
from wftrio.bench._timing import ratio

__all__ = [
    "compare",
    "figure",
    "format_compare",
    "format_table",
    "json_safe",
    "load_baseline",
]

REPORT_VERSION = 1
"""``wftrio_bench`` in a report: the version of its layout."""


def figure(
    title: str,
    measured: float,
    baseline: float,
    unit: str,
    target: str,
    met: bool | None,
    *,
    differs: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A figure record (see the module docstring)."""
    fig: dict[str, Any] = {
        "title": title,
        "measured": measured,
        "baseline": baseline,
        "unit": unit,
        "ratio": ratio(measured, baseline),
        "target": target,
        "met": met,
        "equal_work": differs is None,
    }
    if differs is not None:
        fig["differs"] = differs
    fig.update(extra)
    return fig


def _fmt(v: float | None) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def _grid(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return out


def _header(report: Mapping[str, Any]) -> str:
    r = {k: report.get(k, "?") for k in ("repeat", "implementation", "python", "trio")}
    return (
        f"wftrio bench ({'quick' if report.get('quick') else 'full'}"
        f"{' + --full sizes' if report.get('full') else ''}, best of {r['repeat']}; "
        f"{r['implementation']} {r['python']}, trio {r['trio']})"
    )


def _notes(name: str, f: Mapping[str, Any]) -> list[str]:
    """The lines under the table that a figure adds."""
    notes: list[str] = []
    if not f["equal_work"]:
        notes.append(f"   {f['id']}: the baseline does different work: {f['differs']}")
    if name == "discriminator":
        notes.append(
            f"   discriminator: cancelling variant {_fmt(f['cancelling_us'])} us, "
            f"AND-join of the same 3 tasks {_fmt(f['and_join_us'])} us "
            f"(first(1) / AND-join = {_fmt(f['vs_and_join'])})"
        )
    elif name == "tracing":
        notes.append(
            f"   tracing: level min {_fmt(f['min_us'])} us/task; "
            f"full records {f['events']:,} events; full, then the trace read "
            f"{_fmt(f['full_read_us'])} us/task"
        )
    elif name == "waiting":
        notes.append(
            f"   waiting cases: {f['signals_per_sec']:,.0f} signals/s (signal + completion), "
            f"{f['cases_started_per_sec']:,.0f} cases started/s"
        )
    elif name == "waiters":
        notes.append(
            f"   waiters: a burst of signals before one run: {_fmt(f['burst_large_us'])} / "
            f"{_fmt(f['burst_small_us'])} us/signal ({_fmt(f['burst_ratio'])})"
        )
    elif name in ("scale_memory", "scale_start", "par_width"):
        key = {"scale_memory": "bytes_per_case", "scale_start": "us_per_start"}.get(
            name, "us_per_branch"
        )
        cells = ", ".join(f"{int(k):,}: {_fmt(v)}" for k, v in f[key].items())
        notes.append(f"   {f['id']}: {f['unit']} by size: {cells}")
    elif name in ("scaleout_cases", "scaleout_signals"):
        cells = ", ".join(f"{k}: {_fmt(v)}" for k, v in f["per_workers"].items())
        notes.append(f"   {f['id']}: {f['unit']} by number of workers: {cells}")
    elif name == "validate":
        for fam, rows in f["families"].items():
            cells = ", ".join(
                f"k={r['k']}: {r['states_reduced']:,}/{r['states_full']:,}"
                f"{'+' if r['full_hit'] else ''} in {_fmt(r['ms_reduced'])}/"
                f"{_fmt(r['ms_full'])} ms"
                for r in rows
            )
            notes.append(f"   validate ({fam}; states reduced/full, time): {cells}")
        if "us_per_state_full" in f:
            notes.append(
                f"   validate: per stored state {_fmt(f['us_per_state'])} us reduced, "
                f"{_fmt(f['us_per_state_full'])} us full (the largest full exploration)"
            )
    return notes


def format_table(report: Mapping[str, Any]) -> str:
    """Render a report from :func:`wftrio.bench.run_benchmarks` as a text table."""
    head = ("figure", "measured", "baseline", "unit", "ratio", "target", "met")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for name, f in report["figures"].items():
        met = "-" if f["met"] is None else ("yes" if f["met"] else "NO")
        rows.append(
            (
                f"{f['id']}. {f['title']}",
                _fmt(f["measured"]),
                _fmt(f["baseline"]),
                f["unit"],
                _fmt(f["ratio"]),
                f["target"],
                met,
            )
        )
        notes.extend(_notes(name, f))
    return "\n".join([_header(report), "", *_grid(head, rows), *([""] + notes if notes else [])])


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats (not valid JSON) replaced by ``None``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------
# comparison with an earlier run


def load_baseline(text: str, source: str) -> dict[str, Any]:
    """Parse a report written by ``python -m wftrio.bench --json``.

    Raises:
        ValueError: ``text`` is not JSON, or not such a report.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if (
        not isinstance(data, dict)
        or data.get("wftrio_bench") != REPORT_VERSION
        or not isinstance(data.get("figures"), dict)
        or not all(isinstance(f, dict) for f in data["figures"].values())
    ):
        raise ValueError(
            f"{source} is not a report of `python -m wftrio.bench --json` (layout {REPORT_VERSION})"
        )
    return data


def _number(v: Any) -> float | None:
    if is_number(v):
        return float(v)
    return None


def _change(now: float | None, before: float | None) -> float | None:
    """The change from ``before`` to ``now`` in percent (``None`` when either is missing)."""
    if now is None or before is None or before == 0:
        return None
    return (now - before) / abs(before) * 100


def compare(report: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each figure of ``report`` beside the same figure of ``baseline``.

    Returns:
        figure name -> ``{"measured": [before, now, change %], "ratio": [...]}``
        for every figure of ``report``; ``before`` and the change are
        ``None`` for a figure the baseline lacks (or did not measure).
    """
    old = baseline["figures"]
    out: dict[str, dict[str, Any]] = {}
    for name, f in report["figures"].items():
        b = old.get(name, {})
        row: dict[str, Any] = {}
        for key in ("measured", "ratio"):
            now, before = _number(f.get(key)), _number(b.get(key))
            row[key] = [before, now, _change(now, before)]
        out[name] = row
    return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def format_compare(report: Mapping[str, Any], baseline: Mapping[str, Any], source: str) -> str:
    """Render :func:`compare` as a text table: each figure beside its baseline figure."""
    cmp = compare(report, baseline)
    head = ("figure", "unit", "before", "now", "change", "ratio before", "ratio now", "change")
    rows: list[tuple[str, ...]] = []
    for name, f in report["figures"].items():
        (mb, mn, mc), (rb, rn, rc) = cmp[name]["measured"], cmp[name]["ratio"]
        title = f"{f['id']}. {f['title']}"
        if name not in baseline["figures"]:
            title += " (not in the baseline)"
        rows.append((title, f["unit"], _fmt(mb), _fmt(mn), _pct(mc), _fmt(rb), _fmt(rn), _pct(rc)))
    lines = [_header(report), f"compared with {source}: {_header(baseline)}", ""]
    if bool(report.get("quick")) != bool(baseline.get("quick")):
        lines[1:1] = ["warning: one run is --quick and the other is not; sizes differ"]
    lines += _grid(head, rows)
    skipped = sorted(set(baseline["figures"]) - set(report["figures"]))
    if skipped:
        lines += ["", f"   in the baseline, not run now: {', '.join(skipped)}"]
    lines += [
        "",
        "   change = (now - before) / before; measured values depend on the machine, "
        "ratios much less",
    ]
    return "\n".join(lines)
