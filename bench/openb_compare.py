"""HCS's default placement policy against the six baselines on Alibaba's openb trace lists.

For every pod list (default, gpushare*, multigpu*, gpuspec*, cpu*) and seed, runs the FGD
paper's protocol on the 1,213-node GPU cluster and prints the unallocated GPU share at 100 %
arrived workload per policy, the best baseline, and whether the default is at least as good.
Writes the full table as JSON and Markdown to --out.

    .venv/bin/python bench/openb_compare.py [--lists default,gpuspec33] [--seeds 0,1,2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from hcs_exchange import load_database
from hcs_scheduler.cli import DEFAULT_POLICIES
from hcs_scheduler.sim import fgd_protocol, openb

TRACE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "traces" / "alibaba-gpu-v2023"
)
LISTS = (
    ["default"]
    + [f"gpushare{n}" for n in (20, 40, 60, 80, 100)]
    + [f"multigpu{n}" for n in (20, 30, 40, 50)]
    + [f"gpuspec{n}" for n in ("05", "10", "20", "25", "33")]
    + [f"cpu{n}" for n in ("0", "037", "050", "072", "100", "200", "235", "250", "300")]
)
POLICIES = DEFAULT_POLICIES.split(",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", default=",".join(LISTS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--out", type=Path, default=Path("bench/results/openb"))
    args = parser.parse_args()
    profiles = load_database()
    nodes = openb.read_nodes(args.trace / "openb_node_list_gpu_node.csv", profiles)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    started = time.perf_counter()
    for name in args.lists.split(","):
        tasks = openb.read_tasks(args.trace / f"openb_pod_list_{name}.csv", profiles)
        runs = {policy: [] for policy in POLICIES}
        for seed in seeds:
            for curve in fgd_protocol.run(nodes, tasks, POLICIES, seed=seed):
                runs[curve.policy].append(curve.at_full()[0])
        means = {policy: statistics.fmean(values) for policy, values in runs.items()}
        best_name = min((p for p in POLICIES if p != "default"), key=means.__getitem__)
        rows[name] = {
            "unallocatedPercent": means,
            "perSeed": runs,
            "bestBaseline": best_name,
            "defaultAtLeastAsGood": means["default"] <= means[best_name] + 1e-9,
        }
        cells = " ".join(f"{means[p]:6.2f}" for p in POLICIES)
        verdict = "ok" if rows[name]["defaultAtLeastAsGood"] else f"WORSE than {best_name}"
        print(f"{name:12s} {cells}  {verdict}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "openb-compare.json").write_text(
        json.dumps({"seeds": seeds, "lists": rows}, indent=2)
    )
    header = "| list | " + " | ".join(POLICIES) + " | best baseline | default ≤ best |\n"
    header += "|---" * (len(POLICIES) + 3) + "|\n"
    body = "".join(
        f"| {n} | "
        + " | ".join(f"{r['unallocatedPercent'][p]:.2f}" for p in POLICIES)
        + f" | {r['bestBaseline']} | {'yes' if r['defaultAtLeastAsGood'] else 'no'} |\n"
        for n, r in rows.items()
    )
    (args.out / "openb-compare.md").write_text(
        "Unallocated GPU % at 100 % arrived workload, "
        f"mean over seeds {seeds}, 1,213 GPU nodes.\n\n" + header + body
    )
    print(
        f"policies: {' '.join(POLICIES)}; {time.perf_counter() - started:.0f} s; "
        f"written to {args.out}"
    )


if __name__ == "__main__":
    main()
