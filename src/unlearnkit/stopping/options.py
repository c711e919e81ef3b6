"""``stop`` and its options (``stopping:`` in a config, a method's ``stopping`` option)."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt

from ..errors import UnlearnkitError
from ..eval.proxy import ProxyOptions


STOP_CHOICES = ("auto", "none")
StopMode = Literal["auto", "none"]


def check_stop(value, where: str = "stop") -> str:
    """``value`` if it is one of :data:`STOP_CHOICES`, else an error listing them."""
    if value in STOP_CHOICES:
        return value
    close = difflib.get_close_matches(str(value), STOP_CHOICES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnlearnkitError(f"{where} must be one of {', '.join(repr(c) for c in STOP_CHOICES)}, got {value!r}.{hint}")


class StopOptions(BaseModel):
    """How ``stop="auto"`` evaluates and when the guards fire (a method option: ``stopping: {...}``)."""

    model_config = ConfigDict(extra="forbid")
    every: float = Field(
        0.5, gt=0, description="evaluate the proxy (auto) and the guards every this fraction of an epoch"
    )
    max_interval: int | None = Field(
        100,
        ge=1,
        description="auto: evaluate at least every this many optimiser steps (on a large D_r half an epoch is "
        "hundreds of steps, and a method can pass its best state inside one; 50 doubled the proxy's cost on "
        "full Fashion-MNIST and changed no kept state there); null: `every` alone",
    )
    early_min: int | None = Field(
        10,
        ge=1,
        description="auto: also evaluate at every/2, every/4, … steps while that is at least this many steps "
        "(a method with a large lr can pass its best state before the first regular evaluation); null: off",
    )
    guard_every: float = Field(
        1.0, gt=0, description="stop='none': check the divergence guards every this fraction of an epoch"
    )
    patience: float = Field(1.0, gt=0, description="auto: stop after this many epochs without a better proxy")
    overshoot: float = Field(
        20.0, gt=0, description="auto: stop when the proxy gap exceeds the best by this many percent points"
    )
    min_delta: float = Field(0.0, ge=0, description="auto: an improvement must lower the proxy gap by more")
    max_damage: float = Field(
        5.0,
        ge=0,
        description="auto: a state whose RA on the D_r sample may have fallen by more than this many points "
        "against θ_o (the estimate plus damage_z standard errors) is never kept, however low its proxy gap: the "
        "collapse guard",
    )
    max_unseen_damage: float = Field(
        10.0,
        ge=0,
        description="auto: a state whose accuracy on the held-out samples of the kept classes fell by more than "
        "this many points against θ_o is never kept. Until 2026-11-26 the bound was max_damage on the sum of the "
        "two losses; a separate, wider bound for held-out accuracy lets a model that generalises poorly (test "
        "accuracy 68 %, where retraining on 90 % of the data costs points too) move to states the sum refused: "
        "a synthetic 20-class grid, mean Avg.Gap 16.2 → 14.0 on random 10 %; defaults-transfer seeds 0–2, the "
        "same 451 cells won, ft 7.06 → 5.14",
    )
    damage_z: float = Field(
        2.0,
        ge=0,
        description="auto: a state is kept only if its RA loss on the D_r sample plus damage_z × that "
        "estimate's standard error is within max_damage (a collapse is judged on RA); 0 trusts the estimate. "
        "1 let a 5.2-point RA loss through on a confirmation grid (ft, Adult random 10 %, estimated 4.3 ± 0.65 "
        "after 24 evaluations); 2 refused it and won as many cells on both grids (445 and 408 of 480)",
    )
    screen_retain: int | None = Field(
        500,
        ge=1,
        description="auto: score each evaluation first with this many of the proxy's D_r sample (its head, a seeded "
        "subsample too) and with all of it only where the state could beat the best so far (its proxy gap less the "
        "RA-loss part is below the best) or the head calls it unkeepable: the defaults-transfer and unnamed grids kept "
        "the same state in every row with 7–8 % fewer evaluation passes, and auto's cost per epoch on a "
        "3000-image Fashion-MNIST subset fell from 1.36× to 1.13×; null: always the whole sample",
    )
    param_factor: float = Field(3.0, gt=1, description="guard: ‖θ‖ / ‖θ_o‖ above this is divergence")
    logit_factor: float = Field(
        10.0, gt=1, description="guard: mean logit norm on a D_r sample above this × θ_o's is divergence"
    )
    guard_samples: int = Field(256, ge=1, description="D_r samples of the logit-norm guard under stop='none'")
    lr_factors: tuple[PositiveFloat, ...] = Field(
        (1.0, 10.0),
        min_length=1,
        description="auto, gradient methods: multiples of the method's lr each run from θ_o (auto-stopped); "
        "the run whose kept state has the lowest proxy gap wins. (1.0,) searches only the step",
    )
    lr_lower: tuple[PositiveFloat, ...] = Field(
        (0.3, 0.1, 0.03),
        description="auto, gradient methods: multiples of lr tried in turn when the first lr_factors run kept "
        "θ_o, peaked at its first evaluation or diverged (its steps too large to find the point), each further one "
        "only while the previous one kept θ_o or peaked at once",
    )
    damage_lower: tuple[PositiveFloat, ...] = Field(
        (0.1, 0.01),
        description="auto, gradient methods with a damage_option (a regulariser's weight: l1_sparse's l1): its "
        "multiples used in turn by the runs of the lr search that follow a run with at least half of its evaluated "
        "states refused for damage (max_damage, max_unseen_damage) — no extra run. l1_sparse's γ 2e-3, measured on "
        "digits' 190 steps, prunes a full Fashion-MNIST MLP over 7 600 until 77 of 80 states were refused and the "
        "class stayed (Avg.Gap 16.6); at γ 2e-4, 1.26. (): off",
    )
    lr_refine: int = Field(
        2,
        ge=0,
        description="auto, gradient methods: rounds that then try a larger lr while the best run was still "
        "improving when its epochs ran out (its last state its best, or its best in its last third of evaluations "
        "with no later reading 2 % above it), or while the next larger lr tried never beat "
        "θ_o (it diverged or over-forgot from its first evaluation on): the geometric midpoint with the next larger "
        "lr tried, or × 10 above the largest (up to lr_max_factor). Defaults-transfer grids, the first trigger: the "
        "same cells won (448 and 411 of 480), mean Avg.Gap neggrad_plus 6.03 → 5.68 and 6.57 → 6.29, for up to 13 % "
        "more passes; the second (2026-11-26, with step_refine): 449 → 451 and 411 → 412, mean Avg.Gap scrub "
        "6.45 → 4.49 and 6.65 → 4.59, ft 8.27 → 7.06 and 7.24 → 5.91, for 8–64 % more passes (l1_sparse the most); 0: off",
    )
    step_refine: int = Field(
        2,
        ge=0,
        description="auto, gradient methods: rounds that re-run the kept run's lr from θ_o (same seed, so the same "
        "trajectory) and evaluate three steps between its kept state and its next evaluation, when that next one "
        "had a lower proxy gap but was refused for damage (max_damage, max_unseen_damage): a method that crosses the damage bound "
        "between two evaluations (ga, neggrad_plus on class forgetting) is stopped short by the coarse cadence, "
        "not by the bound. Defaults-transfer grid (seeds 0–2, after lr_refine): 448 → 449 of 480 cells won, mean "
        "Avg.Gap neggrad_plus 5.68 → 3.49, ga 7.91 → 5.92, for 1–9 % more passes; 0: off",
    )
    epoch_refine: int = Field(
        2,
        ge=0,
        description="auto, gradient methods: rounds that then re-run from θ_o, at the same lr and seed, with twice "
        "the epochs the run that ran out of epochs while its proxy gap was still falling (its last evaluation its "
        "lowest, or the one before a last reading within END_BLIP of it; kept or refused for damage, 1 % below the "
        "evaluation before it and at or below the best kept gap), up to "
        "epoch_max_factor × epochs: "
        "forgetting by fine-tuning (ft, a whole class) or a network that recovers from a first damaging phase "
        "(salun on a batch-norm ResNet) needs time, not a larger lr; 0: off",
    )
    epoch_max_factor: PositiveFloat = Field(
        4.0, description="auto, gradient methods: the largest multiple of the method's epochs epoch_refine may run"
    )
    at_steps: tuple[PositiveInt, ...] | None = Field(
        None,
        description="auto: evaluate at exactly these optimiser steps and stop after the last (no cadence, no "
        "patience or overshoot); step_refine's re-runs set it; null: the cadence above",
    )
    flat_tol: NonNegativeFloat = Field(
        0.01,
        description="auto, gradient methods: a run whose every evaluation (two or more) left the proxy gap within "
        "this fraction of θ_o's, and that did not diverge, took steps too small to move the model: it is no reason "
        "to lower the lr (it did not keep θ_o for being too fast), and where it is the largest lr tried, the ascent "
        "(lr_refine) tries × 10 above it. A user's lr 10× below ft's default (0.002) kept a whole digits class: "
        "the × 10 run read 52.48 against θ_o's 52.49 and stopped on patience (Avg.Gap 52.3 → 1.32). One-shot "
        "methods: where no strength tried moved the proxy by more (or the method refused it as selecting nothing), "
        "strength_extend goes on toward the stronger end (ssd at a user's α 40, 10× its default, kept digits class "
        "3 at every α tried, 10 … 160); 0: off",
    )
    short_z: PositiveFloat | None = Field(
        3.0,
        description="auto: warn where the state kept still classifies D_f's partial part more accurately than the "
        "FA target by more than this many standard errors (the target's, from the effective number of held-out "
        "samples, and the kept FA's, from the D_f sample), or still recognises a removed class (its FA's lower "
        "bound, this many standard errors below it, above 0): the method removed part of D_f's influence, not all "
        "(short_of_target). Recomputed on 726 auto rows of the defaults-transfer grids (digits seeds 0–5, "
        "Fashion-MNIST 3 000 and three tabular sets seeds 3–5) it found 104 short, and on 93 % of those the kept FA "
        "was more than 5 points above the retrained model's (17 on average), against 18 % of the rest; null: never",
    )
    lr_max_factor: PositiveFloat = Field(
        100.0, description="auto, gradient methods: the largest multiple of the method's lr lr_refine may try"
    )
    max_cost: PositiveFloat | None = Field(
        1.0,
        description="auto, gradient methods: the lr search starts no further run once the passes spent so far (the "
        "method's forward + backward passes over every run, as unlearn_passes counts them; evaluation apart) reach "
        "this multiple of one retraining's, 2 · train epochs · |D_r| (the train_config's epochs: the checkpoint's "
        "own with the CLI, the grid's in a bench, the library default 30 otherwise). Unlearning that costs more "
        "than retraining has lost its point; the first run always runs. null: no cap",
    )
    strength_factors: tuple[float, ...] = Field(
        (0.25, 0.5, 1.0, 2.0, 4.0),
        min_length=1,
        description="auto, one-shot methods: multipliers of the strength option tried",
    )
    strength_extend: int = Field(
        3,
        ge=0,
        description="auto, one-shot methods: up to this many values past the end of the range tried (× 4 or ÷ 4), "
        "while every strength tried was refused for damage (toward the method's weaker end, strength_weaker) or the "
        "best one is the strongest tried, or no value moved the proxy beyond flat_tol (one step stronger); the "
        "refinement rounds then look between. ssd on a "
        "13-sample class of an imbalanced digits set refused α 1 … 16 (RA −22 to −38 points) and kept θ_o; if on "
        "digits class 3 with logreg was best at its largest scale, × 4, and still improving. Past a best that is "
        "the weakest tried it does not go (toward θ_o, itself a candidate): there it changed fisher on 6 cells of "
        "three grids, each to a lower proxy gap and a higher Avg.Gap",
    )
    strength_refine: int = Field(
        3,
        ge=0,
        description="auto, one-shot methods: rounds that then try the geometric midpoints around the best "
        "strength (or across the damage bound when none was kept); 0: the factors only. ssd's α is a "
        "selection threshold, so its effect jumps within a factor of 2 (digits half of class 5: α 8 leaves θ_o, "
        "5.7 drops FA to 6 %); 3 rounds instead of 1: ssd won 40 of 48 held-out cells instead of 38, fisher 45 instead of 46",
    )
    proxy: ProxyOptions = Field(default_factory=ProxyOptions)
