"""One GPU session in one command: the card, ``gpu_throughput.py``, then the ``gpu_grid.yaml`` grid.

Device time is scarce (a lent GPU for minutes), so every stage has its own time limit, is killed with
its whole process group when it runs over, and leaves what it finished behind: the throughput table
is printed row by row, the grid's ``results.db`` is written job by job. Everything lands in ``--out``
(``env.txt``, ``amp_tests.log`` (the CUDA tests of ``tests/test_amp.py``), ``throughput.log``, ``grid.log``, ``results.db``, ``results.csv``, ``report.md``).

    python benchmarks/gpu_session.py --data-dir DIR --out runs/gpu            # on a GPU machine
    python benchmarks/gpu_session.py --smoke --data-dir DIR --out /tmp/gs     # CPU dress rehearsal

``--smoke`` runs the same stages shrunk (throughput ``--tiny``; the grid on 600 samples, width 8,
one epoch) on the CPU, so the script itself is checked before device minutes are spent on it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def stage(name: str, cmd: list[str], log: Path, limit: float, env: dict) -> int:
    """Run ``cmd`` (its own process group) with output to ``log`` and the console; kill it at ``limit`` s."""
    t0 = time.perf_counter()
    print(f"== {name}: {' '.join(cmd)} (limit {limit:.0f} s)", flush=True)
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        assert proc.stdout is not None
        deadline = t0 + limit
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            chunk = proc.stdout.read()
            if chunk:
                text = chunk.decode(errors="replace")
                f.write(text)
                f.flush()
                sys.stdout.write(text)
                sys.stdout.flush()
            if proc.poll() is not None and not chunk:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                f.write(f"\n[killed at its {limit:.0f} s limit]\n")
                print(f"== {name}: killed at its {limit:.0f} s limit", flush=True)
                return 124
            time.sleep(0.2)
    print(f"== {name}: exit {proc.returncode} after {time.perf_counter() - t0:.0f} s", flush=True)
    return proc.returncode


def grid_config(smoke: bool, work: Path, kinds: list[str] | None, seeds: list[int] | None = None) -> Path:
    cfg = yaml.safe_load((HERE / "gpu_grid.yaml").read_text())
    if kinds:
        cfg["scenarios"] = [s for s in cfg["scenarios"] if s["kind"] in kinds]
    if seeds:
        cfg["seeds"] = list(seeds)
    if smoke:
        cfg["datasets"] = [{"name": "fashion_mnist", "subset": 600}]
        cfg["model"]["options"]["width"] = 8
        cfg["train"].update(epochs=1, precision="fp32")
        for opts in cfg["method_options"].values():
            opts.update(epochs=1)
            opts.pop("precision", None)
        cfg["metric_options"]["mia_efficacy"]["max_shadow"] = 200
    path = work / "gpu_grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder holding fashion-mnist/ (the idx .gz files)")
    p.add_argument("--out", default=os.environ.get("OUT", "runs/gpu_session"))
    p.add_argument("--smoke", action="store_true", help="CPU dress rehearsal: every stage shrunk")
    p.add_argument("--tests-limit", type=float, default=90.0, help="seconds for tests/test_amp.py (CUDA tests)")
    p.add_argument("--throughput-limit", type=float, default=150.0, help="seconds for gpu_throughput.py")
    p.add_argument("--grid-limit", type=float, default=300.0, help="seconds for the grid")
    p.add_argument("--stop", choices=["none", "auto"], default=None, help="override the grid's stop (none)")
    p.add_argument("--kinds", nargs="+", default=None, help="keep only these scenario kinds (e.g. random)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="override the grid's seeds (0)")
    p.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    p.add_argument("--subset", type=int, default=12000, help="training-pool subset for gpu_throughput.py")
    p.add_argument("--repeats", type=int, default=5, help="gpu_throughput.py --repeats (interleaved timed pairs)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "unlearnkit_gpu_session"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    device = "cpu" if args.smoke else "cuda"

    info = [f"python {sys.version.split()[0]}"]
    try:
        import torch

        info.append(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}")
        if torch.cuda.is_available():
            info.append(f"card: {torch.cuda.get_device_name(0)}")
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        info.append(f"torch import failed: {e}")
    smi = shutil.which("nvidia-smi")
    if smi:
        info.append(subprocess.run([smi], capture_output=True, text=True).stdout)
    (out / "env.txt").write_text("\n".join(info) + "\n")
    print("\n".join(info[:3]), flush=True)

    if (
        not args.no_tests and (ROOT / "tests" / "test_amp.py").exists()
    ):  # the CUDA checks of the AMP / channels_last paths
        tests = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_amp.py")]
        stage("amp tests", tests, out / "amp_tests.log", args.tests_limit, env)

    tp = [sys.executable, str(HERE / "gpu_throughput.py"), "--data-dir", args.data_dir, "--datasets", "fashion_mnist"]
    tp += ["--device", device, "--marginal", "--repeats", str(args.repeats)]
    tp += ["--tiny"] if args.smoke else ["--subset", str(args.subset)]
    stage("throughput", tp, out / "throughput.log", args.throughput_limit, env)

    run_dir = work / "grid"
    bench = [sys.executable, "-c", "from unlearnkit.cli import main; main()", "bench"]
    bench += [
        "--config",
        str(grid_config(args.smoke, work, args.kinds, args.seeds)),
        "--out",
        str(run_dir),
        "--device",
        device,
    ]
    bench += ["--data-dir", args.data_dir, "--cache-dir", str(work / "cache"), "--quiet"]
    bench += ["--stop", args.stop] if args.stop else []
    stage("grid", bench, out / "grid.log", args.grid_limit, env)
    for name in ("results.db", "results.csv", "report.md"):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, out / name)
    print(f"== files in {out}: {sorted(f.name for f in out.iterdir())}", flush=True)


if __name__ == "__main__":
    main()
