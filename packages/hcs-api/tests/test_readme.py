"""The README's embedding example runs as written."""

import re


def test_readme_python_examples_run(repo_root):
    readme = (repo_root / "packages" / "hcs-api" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README has a runnable example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
