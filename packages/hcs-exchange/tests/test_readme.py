"""The README's Python example runs, and it lists every source the profiles cite."""

import re


def _readme(repo_root):
    return (repo_root / "packages" / "hcs-exchange" / "README.md").read_text()


def test_readme_python_examples_run(repo_root):
    blocks = re.findall(r"```python\n(.*?)```", _readme(repo_root), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_lists_every_source(repo_root, database):
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", _readme(repo_root), flags=re.MULTILINE))
    assert listed == set(database.sources)
