"""The mutation report counts what mutmut found the way the README says: timeouts and type-check
failures are kills, a function no test runs is a live mutant, a survivor is equivalent only when
module, function and changed lines all match an entry, and the score keeps equivalents in the
denominator. The checked-in lists (modules.toml, equivalent/) must stay readable and true."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from report import (
    Equivalent,
    Mutant,
    changed_lines,
    equivalents_markdown,
    format_survivors,
    format_table,
    load_equivalents,
    score_modules,
    stale,
    total,
)

HERE = Path(__file__).absolute().parents[1]
ROOT = HERE.parents[1]
METHOD = "hcs_api._podrequest.x\u01c1Preferences\u01c1allows_model__mutmut_5"
FUNCTION = "hcs_api._podrequest.x__container__mutmut_10"
DIFF = """--- src/hcs_api/_podrequest.py
+++ src/hcs_api/_podrequest.py
@@ -1,3 +1,3 @@
 def allows_model(self, model):
-    return model in self.models
+    return model not in self.models
"""


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (1, "killed"),
        (3, "killed"),
        (36, "killed"),
        (-24, "killed"),
        (37, "killed"),
        (0, "survived"),
        (33, "no tests"),
        (5, "no tests"),
        (None, "not checked"),
        (-11, "suspicious"),
    ],
)
def test_exit_codes_read_as_mutmut_reads_them(code: int | None, status: str) -> None:
    assert Mutant(METHOD, "m.py", code).status == status


def test_the_function_is_read_from_a_method_or_a_function_name() -> None:
    assert Mutant(METHOD, "m.py", 0).function == "Preferences.allows_model"
    assert Mutant(FUNCTION, "m.py", 0).function == "_container"


def test_changed_lines_are_the_diffs_removed_and_added_lines_stripped() -> None:
    assert changed_lines(DIFF) == (
        ("return model in self.models",),
        ("return model not in self.models",),
    )


def equivalent(**changes: object) -> Equivalent:
    fields: dict[str, object] = {
        "module": "hcs_api/_podrequest.py",
        "function": "Preferences.allows_model",
        "removed": ("return model in self.models",),
        "added": ("return model not in self.models",),
        "why": "because",
    }
    return Equivalent(**(fields | changes))  # type: ignore[arg-type]


def test_an_equivalent_matches_only_the_same_module_function_and_lines() -> None:
    mutant = Mutant(METHOD, "hcs_api/_podrequest.py", 0, DIFF)
    assert equivalent().matches(mutant)
    assert not equivalent(module="hcs_api/_quantity.py").matches(mutant)
    assert not equivalent(function="Preferences.allows_vendor").matches(mutant)
    assert not equivalent(added=("return True",)).matches(mutant)


def test_scores_count_kills_equivalents_and_live_mutants_per_module() -> None:
    module = "hcs_api/_podrequest.py"
    mutants = [
        Mutant(f"{METHOD}1", module, 1),
        Mutant(f"{METHOD}2", module, 36),
        Mutant(f"{METHOD}3", module, 0, DIFF),  # equivalent
        Mutant(f"{METHOD}4", module, 33, "-a\n+b\n"),  # no test runs it: live
        Mutant(f"{METHOD}5", module, None),  # the time box ended first
        Mutant(f"{FUNCTION}", "hcs_api/_quantity.py", 0, "-x = 1\n+x = 2\n"),
    ]
    scores = score_modules(mutants, [equivalent()])
    podrequest = scores[module]
    assert (podrequest.killed, podrequest.equivalent, podrequest.not_checked) == (2, 1, 1)
    assert [m.name for m in podrequest.survivors] == [f"{METHOD}4"]
    assert podrequest.checked == 4
    assert podrequest.score == pytest.approx(50.0)
    whole = total(scores)
    assert (whole.checked, whole.killed, len(whole.survivors)) == (5, 2, 2)
    table = format_table(scores)
    assert table.splitlines()[-1].split() == ["all", "5", "2", "1", "2", "40.0", "%"]
    listing = format_survivors(scores)
    assert "hcs_api/_quantity.py  _container  (survived:" in listing
    assert "  - x = 1\n  + x = 2" in listing


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        '[[equivalent]]\nmodule = "m.py"\nfunction = "f"\nremoved = ["a"]\nadded = []\nwhy = " "\n'
    )
    with pytest.raises(ValueError, match="gives no reason"):
        load_equivalents(tmp_path)
    (tmp_path / "p.toml").write_text('[[equivalent]]\nmodule = "m.py"\nwhy = "x"\n')
    with pytest.raises(ValueError, match="lacks added, function, removed"):
        load_equivalents(tmp_path)


def test_the_checked_in_lists_name_real_modules_and_read_cleanly() -> None:
    modules = tomllib.loads((HERE / "modules.toml").read_text())
    assert set(modules) == {"hcs-api", "hcs-exchange", "hcs-health", "hcs-scheduler", "hcs-webhook"}
    known = set()
    for package, spec in modules.items():
        for module in spec["modules"]:
            path = ROOT / "packages" / package / "src" / spec["import"] / module
            assert path.is_file(), path
            known.add(f"{spec['import']}/{module}")
    for entry in load_equivalents(HERE / "equivalent"):
        assert entry.module in known, entry


def test_the_root_readme_lists_every_equivalent_mutant_as_the_files_do() -> None:
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- equivalent mutants: begin -->", "<!-- equivalent mutants: end -->"
    listed = readme[readme.index(begin) + len(begin) : readme.index(end)].strip()
    expected = equivalents_markdown(load_equivalents(HERE / "equivalent"))
    assert listed == expected, "run tools/mutation/run.py --update-readme"


def test_an_entry_matching_no_live_mutant_of_a_checked_module_is_stale() -> None:
    live = Mutant(METHOD, "hcs_api/_podrequest.py", 0, DIFF)
    killed = Mutant(METHOD, "hcs_api/_podrequest.py", 1, DIFF)
    current, other_module = equivalent(), equivalent(module="hcs_api/_quantity.py")
    assert stale([current, other_module], [live]) == []  # _quantity.py was not checked
    assert stale([current, other_module], [killed]) == [current]
