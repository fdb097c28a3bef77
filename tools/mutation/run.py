"""`make mutation`: mutmut over the decision modules of tools/mutation/modules.toml.

Each package runs in its own staging folder at the repository root (`.mutation-<package>/`,
git-ignored): `src`, `tests` and `README.md` link to the package, so mutmut 3 sees the
single-package layout it expects and the tests still find the repository's files three folders
up. Prints the score per module and every live mutant; exits 1 when a live mutant is not listed
in equivalent/ or the score is under --min-score.

  python tools/mutation/run.py                          # every module, every mutant
  python tools/mutation/run.py --package hcs-api        # one package
  python tools/mutation/run.py --changed-since HEAD~1 --sample 40 --time-box 300   # CI
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from report import (
    Mutant,
    equivalents_markdown,
    format_survivors,
    format_table,
    load_equivalents,
    score_modules,
    stale,
    total,
)

HERE = Path(__file__).absolute().parent
ROOT = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent

_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
wanted = json.load(sys.stdin)
print(json.dumps({name: get_diff_for_mutant(name, path=path) for name, path in wanted}))
"""


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def stage(package: str, spec: dict, fresh: bool, suffix: str = "") -> Path:
    """The package's staging folder, with mutmut's settings beside the workspace's pytest ones
    (a sample stages apart, `suffix`, so it never wipes the last full run's results)."""
    folder = ROOT / f".mutation-{package}{suffix}"
    if fresh and folder.exists():
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(exist_ok=True)
    for name in ("src", "tests", "README.md"):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(Path("..") / "packages" / package / name)
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    mutmut = {
        "source_paths": [f"src/{spec['import']}"],
        "only_mutate": [f"src/{spec['import']}/{m}" for m in spec["modules"]],
        "pytest_add_cli_args_test_selection": ["tests"],
        "pytest_add_cli_args": [
            "-p",
            "no:cacheprovider",
            *(f"--ignore=tests/{name}" for name in spec.get("skip_tests", [])),
        ],
        "also_copy": ["README.md"],
    }
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in pytest_options["ini_options"].items()]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in mutmut.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def run_mutmut(folder: Path, names: list[str], time_box: float | None) -> bool:
    """mutmut run in `folder`, its chatter to mutmut.log; False when the time box ended it."""
    with (folder / "mutmut.log").open("a") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "mutmut"), "run", *names],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            process.wait(timeout=time_box)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return False
    return True


def _open(mutant: Mutant) -> bool:
    return mutant.alive or mutant.status == "not checked"


def read_mutants(folder: Path, spec: dict, diffs: bool = True) -> list[Mutant]:
    """Every generated mutant of the package's modules, from mutmut's .meta files, with diffs
    for the live ones (unless `diffs` is False)."""
    mutants, wanted = [], []
    for module in spec["modules"]:
        meta = folder / "mutants" / "src" / spec["import"] / f"{module}.meta"
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        label = f"{spec['import']}/{module}"
        for name, code in codes.items():
            mutants.append(Mutant(name=name, module=label, exit_code=code))
            if mutants[-1].alive:
                wanted.append((name, f"src/{spec['import']}/{module}"))
    if not wanted or not diffs:
        return mutants
    found = subprocess.run(
        [str(VENV_BIN / "python"), "-c", _DIFFS],
        cwd=folder,
        input=json.dumps(wanted),
        capture_output=True,
        text=True,
        check=True,
    )
    diffs = json.loads(found.stdout)
    return [
        Mutant(m.name, m.module, m.exit_code, diffs.get(m.name, "")) if m.alive else m
        for m in mutants
    ]


def touched_packages(modules: dict, since: str) -> dict[str, dict]:
    """The packages and modules of modules.toml that changed since the git revision `since`."""
    changed = subprocess.run(
        ["git", "diff", "--name-only", since, "--", "packages"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    result = {}
    for package, spec in modules.items():
        prefix = f"packages/{package}/src/{spec['import']}/"
        hit = [m for m in spec["modules"] if prefix + m in changed]
        if hit:
            result[package] = {**spec, "modules": hit}
    return result


def update_readme(table: str) -> None:
    """Replace the table between the README's equivalent-mutant markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = "<!-- equivalent mutants: begin -->", "<!-- equivalent mutants: end -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    readme.write_text(f"{head}{begin}\n{table}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", help="only this package (repeatable)")
    parser.add_argument("--changed-since", help="only modules changed since this git revision")
    parser.add_argument("--sample", type=int, help="run this many random mutants per package")
    parser.add_argument("--seed", type=int, default=0, help="the sample's random seed")
    parser.add_argument(
        "--time-box", type=float, help="seconds per package; what is left is not checked"
    )
    parser.add_argument("--min-score", type=float, default=90.0, help="full runs fail under it")
    parser.add_argument(
        "--recheck-live",
        action="store_true",
        help="keep the last run's kills and run again only its live and unchecked mutants "
        "(and those of functions changed since): minutes instead of the whole set",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's results, run nothing"
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="write the equivalent mutants into the root README's table, run nothing",
    )
    args = parser.parse_args()

    modules = tomllib.loads((HERE / "modules.toml").read_text())
    if args.update_readme:
        update_readme(equivalents_markdown(load_equivalents(HERE / "equivalent")))
        return 0
    if args.package:
        unknown = set(args.package) - modules.keys()
        if unknown:
            print(f"mutation: no such package in modules.toml: {', '.join(sorted(unknown))}")
            return 2
        modules = {p: modules[p] for p in args.package}
    if args.changed_since:
        modules = touched_packages(modules, args.changed_since)
        if not modules:
            print(f"mutation: no decision module changed since {args.changed_since}; none run")
            return 0
    equivalents = load_equivalents(HERE / "equivalent")

    mutants: list[Mutant] = []
    for package, spec in modules.items():
        started = time.monotonic()
        if args.report_only:
            mutants += read_mutants(ROOT / f".mutation-{package}", spec)
            continue
        folder = stage(package, spec, not args.recheck_live, "-sample" if args.sample else "")
        names = [f"{spec['import']}.{m[:-3].replace('/', '.')}.*" for m in spec["modules"]]
        if args.recheck_live:
            earlier = [m for m in read_mutants(folder, spec, diffs=False) if _open(m)]
            names = [m.name for m in earlier] or names
            # Which tests reach which function, recorded afresh: mutmut's incremental stats map
            # only new tests, so an old test would never run against a new or renamed function.
            (folder / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        if args.sample:
            run_mutmut(folder, ["no-such-mutant"], args.time_box)  # generate + test stats only
            pool = [m.name for m in read_mutants(folder, spec)]
            names = sorted(random.Random(args.seed).sample(pool, min(args.sample, len(pool))))
        finished = run_mutmut(folder, names, args.time_box)
        if args.recheck_live and finished:
            # mutmut resets the results of functions whose code changed since: run those too.
            reset = [m.name for m in read_mutants(folder, spec, diffs=False) if m.exit_code is None]
            finished = not reset or run_mutmut(folder, reset, args.time_box)
        found = read_mutants(folder, spec)
        if args.sample:
            found = [m for m in found if m.name in set(names)]
        mutants += found
        state = "done" if finished else f"stopped by the {args.time_box:.0f} s time box"
        took = time.monotonic() - started
        print(f"mutation: {package}: {len(found)} mutants, {state}, {took:.0f} s")
        if not any(m.status != "not checked" for m in found):
            log = (folder / "mutmut.log").read_text(errors="replace")[-3000:]
            print(f"mutation: {package}: no mutant was checked; the end of mutmut.log:\n{log}")
            return 1

    scores = score_modules(mutants, equivalents)
    whole = total(scores)
    print()
    print(format_table(scores))
    if whole.not_checked:
        print(f"\n{whole.not_checked} mutants not checked (time box)")
    if whole.survivors:
        print(f"\nLive mutants ({len(whole.survivors)}), neither killed nor listed as equivalent:")
        print(format_survivors(scores))
    full_run = not (args.sample or args.changed_since or args.time_box or args.report_only)
    if not (args.sample or args.changed_since):
        for entry in stale(equivalents, mutants):
            print(f"stale equivalent (remove it): {entry.module} {entry.function}: {entry.added}")
    if whole.survivors or (full_run and whole.score < args.min_score):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
