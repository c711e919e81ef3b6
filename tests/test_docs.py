"""The docs stand alone and their worked example works: a new metric is one file + one import, and it
reaches the CSV, the report (with its definition) and Avg.Gap bookkeeping by itself."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_readme_and_docs_do_not_point_outside_the_repository():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text and "DESIGN.md" not in text, f"{doc.name} points outside the repository"
        for link in re.findall(r"\]\(([^)#]+)\)", text):
            if not link.startswith(("http://", "https://")):
                assert (doc.parent / link).exists(), f"{doc.name} links to missing {link}"


def test_worked_metric_example_is_one_file_and_appears_everywhere(tmp_path):
    doc = (ROOT / "docs" / "architecture.md").read_text()
    example = re.search(r"`src/unlearnkit/eval/confidence.py`:\n```python\n(.*?)```", doc, re.S).group(1)
    (tmp_path / "confidence.py").write_text(example.replace("from .base import", "from unlearnkit.eval.base import"))
    out, cache = tmp_path / "run", tmp_path / "cache"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import confidence  # the one import
        from unlearnkit.bench.config import BenchConfig
        from unlearnkit.bench.runner import run_bench
        from unlearnkit.bench.report import write_report
        cfg = BenchConfig(datasets=["digits"], model="mlp", train={{"epochs": 3, "lr": 0.05}},
                          scenarios=[{{"kind": "random", "fraction": 0.1}}], methods=["ft"],
                          method_options={{"ft": {{"epochs": 1}}}}, metrics=["accuracy", "mia_efficacy", "confidence"])
        run_bench(cfg, {str(out)!r}, cache_dir={str(cache)!r}, quiet=True)
        write_report({str(out)!r})
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    df = pd.read_csv(out / "results.csv")
    assert {"FC", "FC_retrain"} <= set(df.columns)
    assert df["FC"].between(0, 100).all()
    md = (out / "report.md").read_text()
    assert "| FC |" in md and "Mean true-class probability (%) on D\\_f." in md
    assert "Mean true-class probability (%) on D_f." in (out / "report.html").read_text()
