"""Safe-by-default unlearning: ``stop="auto"`` (pick the step / strength by the retrain-free proxy) and
divergence guards, for every method that runs the shared optimiser step.

``stop="auto"``: every ``every`` of an epoch (at most ``max_interval`` steps apart) the :class:`Monitor`
scores the model with the proxy (:mod:`unlearnkit.eval.proxy`, fixed seeded subsamples and a reference
computed once from θ_o), keeps the best state — the starting θ_o is a candidate too — and stops on
overshoot (the proxy rose more than ``overshoot`` points above the best), patience (no improvement for
``patience`` epochs) or divergence; the loop's own epochs are the budget. At the end the best state is loaded back. A state whose RA
may have fallen by more than ``max_damage`` points against θ_o (its D_r-sample estimate plus ``damage_z``
standard errors), or whose held-out accuracy fell by more than ``max_unseen_damage``, is never kept: a
collapse is not an answer however well it forgets. ``ctx.history`` gets one ``{"step", "proxy_gap", …}`` entry per
evaluation and a final ``{"auto_stop": {...}}``.

Guards (both modes), at the same evaluation points: the parameter norm ‖θ‖/‖θ_o‖ above
``param_factor``, the mean logit norm on a fixed D_r sample above ``logit_factor``× θ_o's, or a
non-finite loss. Under ``stop="none"`` they raise an :class:`UnlearnkitError` naming the method, the
step and what to lower; under ``auto`` the best state is restored and a warning is recorded.
``stop="none"`` only reads the model (no RNG, no state change), so its updates stay bit-identical to a
loop without the monitor.

One-shot methods with a strength knob (``Method.strength_option``) get a 1-D search instead: the option
times each of ``strength_factors`` (θ_o included as a candidate) and the proxy picks
(:func:`search_strength`); a method with a second knob (ssd's λ after its α) gets a second such search at
the first's choice.

Layout: ``options`` (``stop`` and :class:`StopOptions`), ``monitor`` (the :class:`Monitor` and its guards),
``facts`` (the auto summary's facts, :func:`short_of_target`), ``lr_search`` (:func:`search_lr`) and ``strength``
(:func:`search_strength`).
"""

from .facts import short_of_target, two_sample_se, unresolved_bound
from .lr_search import kept_run, refine_points, search_lr
from .monitor import Monitor, StopRun, best_step, keepable
from .options import STOP_CHOICES, StopMode, StopOptions, check_stop
from .strength import StrengthPath, search_strength

__all__ = [
    "STOP_CHOICES",
    "Monitor",
    "StopMode",
    "StopOptions",
    "StopRun",
    "StrengthPath",
    "best_step",
    "check_stop",
    "keepable",
    "kept_run",
    "refine_points",
    "search_lr",
    "search_strength",
    "short_of_target",
    "two_sample_se",
    "unresolved_bound",
]
