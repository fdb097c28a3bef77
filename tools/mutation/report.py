"""Mutation results, pure: each mutant's status, which survivors are equivalent, the scores.

The runner (run.py) reads mutmut's result files and diffs; everything that decides what the
numbers are lives here, so it is tested without running mutmut.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# mutmut 3.8.1's exit codes (mutmut/stats.py). A timeout or a type-check failure means the
# mutant changed behaviour enough to be caught, so both count as killed, as mutmut counts them.
_KILLED = {1, 3, 24, -24, 152, 255, 36, 37}
_SURVIVED = {0}
_UNTESTED = {5, 33}


@dataclass(frozen=True)
class Mutant:
    """One mutant: its mutmut name, the module it lives in, and what became of it."""

    name: str
    module: str
    exit_code: int | None
    diff: str = ""

    @property
    def status(self) -> str:
        if self.exit_code is None:
            return "not checked"
        if self.exit_code in _KILLED:
            return "killed"
        if self.exit_code in _SURVIVED:
            return "survived"
        if self.exit_code in _UNTESTED:
            return "no tests"
        return "suspicious"

    @property
    def function(self) -> str:
        """The mutated function, `Class.method` or `function` (mutmut mangles both in the name)."""
        mangled = self.name.rpartition(".")[2].partition("__mutmut_")[0]
        return mangled.removeprefix("x").replace("\u01c1", ".").strip(".").removeprefix("_")

    @property
    def alive(self) -> bool:
        """Checked and not caught: survived, or no test runs its function at all."""
        return self.status in ("survived", "no tests")


def changed_lines(diff: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lines a mutant removed and added, stripped of indentation: a key that survives the
    renumbering of mutants when unrelated code changes."""
    removed, added = [], []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(line[1:].strip())
        elif line.startswith("+"):
            added.append(line[1:].strip())
    return tuple(removed), tuple(added)


@dataclass(frozen=True)
class Equivalent:
    """A surviving mutant judged equivalent (no test can tell it apart), with the reason."""

    module: str
    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    why: str

    def matches(self, mutant: Mutant) -> bool:
        return (
            mutant.module == self.module
            and mutant.function == self.function
            and changed_lines(mutant.diff) == (self.removed, self.added)
        )


def load_equivalents(folder: Path) -> list[Equivalent]:
    """Every equivalent/<package>.toml of `folder`."""
    return [entry for path in sorted(folder.glob("*.toml")) for entry in _equivalents(path)]


def _equivalents(path: Path) -> list[Equivalent]:
    """One [[equivalent]] table per mutant; a missing field or an empty reason is an error."""
    data = tomllib.loads(path.read_text())
    result = []
    for index, entry in enumerate(data.get("equivalent", [])):
        missing = {"module", "function", "removed", "added", "why"} - entry.keys()
        if missing:
            raise ValueError(f"{path}: entry {index + 1} lacks {', '.join(sorted(missing))}")
        if not entry["why"].strip():
            raise ValueError(f"{path}: entry {index + 1} gives no reason (why)")
        result.append(
            Equivalent(
                module=entry["module"],
                function=entry["function"],
                removed=tuple(entry["removed"]),
                added=tuple(entry["added"]),
                why=entry["why"],
            )
        )
    return result


@dataclass
class ModuleScore:
    """Counts for one module; `score` is killed over all checked mutants, equivalents included
    in the denominator (the strict reading: an equivalent mutant is still one not killed)."""

    module: str
    killed: int = 0
    equivalent: int = 0
    survivors: list[Mutant] = field(default_factory=list)
    not_checked: int = 0

    @property
    def checked(self) -> int:
        return self.killed + self.equivalent + len(self.survivors)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.checked if self.checked else 100.0


def score_modules(
    mutants: Iterable[Mutant], equivalents: list[Equivalent]
) -> dict[str, ModuleScore]:
    scores: dict[str, ModuleScore] = {}
    for mutant in mutants:
        entry = scores.setdefault(mutant.module, ModuleScore(mutant.module))
        if mutant.status == "not checked":
            entry.not_checked += 1
        elif mutant.status == "killed":
            entry.killed += 1
        elif mutant.alive and any(e.matches(mutant) for e in equivalents):
            entry.equivalent += 1
        else:  # live, or suspicious (a crash no test asked for): both are shown
            entry.survivors.append(mutant)
    return scores


def total(scores: Mapping[str, ModuleScore]) -> ModuleScore:
    whole = ModuleScore("all")
    for entry in scores.values():
        whole.killed += entry.killed
        whole.equivalent += entry.equivalent
        whole.survivors.extend(entry.survivors)
        whole.not_checked += entry.not_checked
    return whole


def format_table(scores: Mapping[str, ModuleScore]) -> str:
    rows = [("module", "mutants", "killed", "equivalent", "alive", "score")]
    for entry in [*sorted(scores.values(), key=lambda s: s.module), total(scores)]:
        rows.append(
            (
                entry.module,
                str(entry.checked),
                str(entry.killed),
                str(entry.equivalent),
                str(len(entry.survivors)),
                f"{entry.score:.1f} %",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        numbers = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
        lines.append("  ".join(cells))
        if number == 0 or number == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_survivors(scores: Mapping[str, ModuleScore]) -> str:
    """Each live mutant: where, what status, and the changed lines, ready to turn into a test
    or an equivalent.toml entry."""
    blocks = []
    for entry in sorted(scores.values(), key=lambda s: s.module):
        for mutant in entry.survivors:
            removed, added = changed_lines(mutant.diff)
            lines = [f"{mutant.module}  {mutant.function}  ({mutant.status}: {mutant.name})"]
            lines += [f"  - {line}" for line in removed] + [f"  + {line}" for line in added]
            blocks.append("\n".join(lines))
    return "\n".join(blocks)


def equivalents_markdown(equivalents: list[Equivalent]) -> str:
    """The root README's list of equivalent mutants: one row per module, function and reason,
    with each mutant's changed line (tests/test_report.py keeps the README equal to this)."""
    groups: dict[tuple[str, str, str], list[Equivalent]] = {}
    for entry in equivalents:
        groups.setdefault((entry.module, entry.function, entry.why), []).append(entry)
    rows = ["| where | mutants: the line becomes | why no behaviour differs |", "|---|---|---|"]
    for (module, function, why), entries in groups.items():
        changes = "<br>".join(_change(e) for e in entries)
        rows.append(f"| `{module}` `{function}` | {changes} | {why} |")
    return "\n".join(rows)


def _change(entry: Equivalent) -> str:
    added = " ".join(entry.added) or "(line removed)"
    return "`" + added.replace("|", "\\|").replace("`", "'") + "`"


def stale(equivalents: list[Equivalent], mutants: list[Mutant]) -> list[Equivalent]:
    """Entries of the checked modules that match no live mutant: the code or a test changed,
    and the entry now lists a mutant that is killed or no longer exists."""
    modules = {m.module for m in mutants if m.status != "not checked"}
    live = [m for m in mutants if m.alive]
    return [e for e in equivalents if e.module in modules and not any(e.matches(m) for m in live)]
