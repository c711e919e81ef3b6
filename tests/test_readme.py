"""The README's library example runs as written, and its two commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs():
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert 0 <= namespace["row"]["FA"] <= 100 and namespace["result"].moved


def test_readme_commands_are_what_ci_runs():
    text = (ROOT / "README.md").read_text()
    first_block = re.findall(r"```bash\n(.*?)```", text, re.S)[0].strip().splitlines()
    assert len(first_block) == 2
    install, test = first_block
    assert "unlearnkit bench --preset quick" in install
    ci = (ROOT / ".ci" / "run").read_text()
    assert install.split(" && ")[0] in ci and test in ci
