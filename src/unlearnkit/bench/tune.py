"""Hyperparameter tuning: per method, minimise mean Avg.Gap to retrain on *tuning seeds* (their own
splits) with Optuna; trials live in the run's SQLite; the chosen options go to a YAML that ``bench``
reads back (``method_options``), to be evaluated on fresh seeds."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from ..errors import UnlearnkitError
from ..eval.base import gap_columns
from ..methods import METHODS
from ..data.split import check_seed
from .config import BenchConfig, Entry, merged
from .job import expand, run_job
from .store import ResultStore


def search_space(method_name: str) -> dict:
    """The method's declared ``search_space`` restricted to its options (α only if it reads D_f)."""
    cls = METHODS.get(method_name)
    fields = cls.Options.model_fields
    return {k: v for k, v in cls.search_space.items() if k in fields and (k != "forget_weight" or cls.uses_forget)}


def untuned(cfg: BenchConfig) -> list[str]:
    """The grid's methods ``tune`` leaves as they are (no hyperparameter in its search space), but for the
    reference rows (``original``, ``retrain``)."""
    return [m.key for m in cfg.methods if not search_space(m.name) and m.name not in ("original", "retrain")]


def suggest(trial, space: dict) -> dict:
    out = {}
    for name, (kind, lo, hi) in space.items():
        if kind == "log":
            out[name] = trial.suggest_float(name, lo, hi, log=True)
        elif kind == "int":
            out[name] = trial.suggest_int(name, int(lo), int(hi))
        else:
            out[name] = trial.suggest_float(name, lo, hi)
    return out


def tune(
    cfg: BenchConfig,
    out: str | Path,
    trials: int = 20,
    tuning_seeds: list[int] | None = None,
    cache_dir: str | None = None,
    device: str = "auto",
    data_dir: str | None = None,
    seed: int = 0,
    on_trial=None,
) -> dict:
    """Returns {method: {"options": best, "avg_gap": best value, "default_avg_gap": value at defaults}}
    and writes ``tuned.yaml`` (``method_options``) into ``out``."""
    try:
        import optuna
    except ImportError:
        raise UnlearnkitError("tune needs Optuna: pip install 'unlearnkit[tune]'") from None
    from .runner import default_cache_dir

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise UnlearnkitError(f"trials must be a whole number ≥ 1 (Optuna trials per method), got {trials!r}")
    seeds = [1000 + s for s in range(2)] if tuning_seeds is None else list(tuning_seeds)
    if not seeds:
        raise UnlearnkitError("tuning seeds are empty; give at least one, e.g. --tuning-seeds 1000,1001")
    for s in seeds:
        check_seed(s, "every tuning seed")
    tunable = [m.key for m in cfg.methods if search_space(m.name)]
    if not tunable:
        raise UnlearnkitError(
            f"nothing to tune: no method of {[m.key for m in cfg.methods]} has hyperparameters in "
            f"the search space (lr, epochs, forget_weight; ssd's alpha and lam, if's scale); list methods such as "
            f"ft, ga, rl"
        )
    cache = str(cache_dir or default_cache_dir())
    # the whole grid on the tuning seeds, validated before any study, store or training
    expand(cfg.model_copy(update={"seeds": seeds, "include_original": False}), cache, device, data_dir)
    out = Path(out)
    store = ResultStore(out)
    storage = f"sqlite:///{store.path}"
    results = {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for m in cfg.methods:
        space = search_space(m.name)
        if not space:
            continue
        base = merged(cfg.method_options, m)  # name, then label (as tuned.yaml is keyed), then the entry

        def score(options: dict) -> float:
            c = cfg.model_copy(
                update={
                    "methods": [Entry(name=m.name, options={**base, **options})],
                    "seeds": seeds,
                    "include_original": False,
                    "metrics": [x for x in cfg.metrics if gap_columns([x])],
                }
            )
            gaps = [run_job(spec)["avg_gap"] for spec in expand(c, cache, device, data_dir).specs]
            value = sum(gaps) / len(gaps)
            return value if math.isfinite(value) else 1e9

        def objective(trial):
            try:
                value = score(suggest(trial, space))
            except UnlearnkitError:  # e.g. NaN loss at these settings: a bad trial, not a crash
                value = 1e9
            if on_trial:
                on_trial(m.key, trial.number, value)
            return value

        study = optuna.create_study(
            study_name=f"{cfg.name}:{m.key}",
            storage=storage,
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            load_if_exists=True,
        )
        if not study.trials:
            defaults = {k: base.get(k, METHODS.get(m.name).Options.model_fields[k].default) for k in space}
            study.enqueue_trial(defaults, user_attrs={"default": True})
        finished = sum(t.state.is_finished() for t in study.trials)  # an enqueued trial is still waiting
        study.optimize(objective, n_trials=max(0, trials - finished))
        default = next(t.value for t in study.trials if t.user_attrs.get("default"))
        best = {**base, **study.best_params}
        better = study.best_value <= default
        results[m.key] = {
            "options": best if better else base,
            "avg_gap": min(study.best_value, default),
            "default_avg_gap": default,
        }
    tuned = {
        "method_options": {k: v["options"] for k, v in results.items()},
        "tuning": {
            "seeds": seeds,
            "trials": trials,
            "avg_gap": {k: {"tuned": v["avg_gap"], "default": v["default_avg_gap"]} for k, v in results.items()},
            "not_tuned": untuned(cfg),  # no search space: they run with their options (stop: auto picks a strength)
        },
    }
    (out / "tuned.yaml").write_text(yaml.safe_dump(tuned, sort_keys=False))
    return results
