"""The README's Python example runs as written."""

import re
from pathlib import Path


def test_readme_python_examples_run():
    readme = (Path(__file__).absolute().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
