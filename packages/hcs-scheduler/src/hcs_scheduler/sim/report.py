"""What a simulation run shows: a terminal table, a JSON document and an HTML page with plots."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hcs_exchange import text_table as _table
from hcs_scheduler.sim.fgd_protocol import Curve
from hcs_scheduler.sim.replay import ReplayResult


def fgd_table(curves: Sequence[Curve]) -> str:
    rows = [
        [
            c.policy,
            f"{c.at_full()[0]:.2f}",
            f"{c.at_full()[1]:.2f}",
            str(c.placed),
            str(c.failed),
            f"{c.seconds:.1f}",
        ]
        for c in sorted(curves, key=lambda c: c.at_full()[0])
    ]
    return _table(["POLICY", "UNALLOCATED-%", "FRAGMENTED-%", "PLACED", "FAILED", "SECONDS"], rows)


def replay_table(results: Sequence[ReplayResult]) -> str:
    rows = [
        [
            r.policy,
            f"{r.utilisation:.1f}",
            f"{r.placed_acu_hours:.0f}",
            str(r.placed),
            str(r.failed),
            f"{r.delay(0.5) / 60:.1f}",
            f"{r.delay(0.95) / 60:.1f}",
            f"{r.seconds:.1f}",
        ]
        for r in results
    ]
    headers = [
        "RUN",
        "UTILISATION-%",
        "PLACED-ACU-H",
        "PLACED",
        "FAILED",
        "DELAY-P50-MIN",
        "DELAY-P95-MIN",
        "SECONDS",
    ]
    return _table(headers, rows)


def fgd_json(curves: Sequence[Curve], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "protocol": "fgd",
        "policies": {
            c.policy: {
                "atFullWorkload": {
                    "unallocatedPercent": c.at_full()[0],
                    "fragmentedPercent": c.at_full()[1],
                },
                "arrivedPercent": c.arrived,
                "unallocatedPercent": c.unallocated,
                "fragmentedPercent": c.fragmented,
                "placed": c.placed,
                "failed": c.failed,
                "seconds": round(c.seconds, 3),
            }
            for c in curves
        },
    }


def replay_json(results: Sequence[ReplayResult], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "runs": {
            r.policy: {
                "utilisationPercent": r.utilisation,
                "placedAcuHours": r.placed_acu_hours,
                "placed": r.placed,
                "failed": r.failed,
                "delaySeconds": {"p50": r.delay(0.5), "p95": r.delay(0.95), "max": r.delay(1.0)},
                "seconds": round(r.seconds, 3),
            }
            for r in results
        },
    }


def write_fgd_report(
    directory: Path, curves: Sequence[Curve], document: dict[str, Any], title: str
) -> list[Path]:
    """result.json, unallocated.png and index.html under `directory`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "result.json"
    json_path.write_text(json.dumps(document, indent=2))
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for curve in curves:
        left.plot(curve.arrived, curve.unallocated, label=curve.policy)
        right.plot(curve.arrived, curve.fragmented, label=curve.policy)
    for axis, label in ((left, "unallocated GPU %"), (right, "fragmented GPU %")):
        axis.set_xlabel("arrived workload, % of GPU capacity")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    left.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    png = directory / "unallocated.png"
    figure.savefig(png, dpi=110)
    plt.close(figure)
    page = directory / "index.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>HCS simulation</title>"
        f"<h1>{html.escape(title)}</h1>"
        "<img src='unallocated.png' alt='unallocated and fragmented GPU'>"
        f"<pre>{html.escape(fgd_table(curves))}</pre>"
        "<p>Full data: <a href='result.json'>result.json</a></p>"
    )
    return [json_path, png, page]
