"""The registered metric ``proxy`` and its columns."""

from __future__ import annotations

from __future__ import annotations

from ..base import METRICS, Column, Evaluation, Metric, Need


from .options import ProxyOptions
from .reference import ProxyReference

PROXY_COLUMNS = (
    Column(
        "proxy_gap",
        "min",
        "Retrain-free proxy of Avg.Gap (same units): the weighted mean of proxy_fa, proxy_mia, "
        "proxy_dist and proxy_damage, from θ_o, D_f, D_r and held-out data only (never θ_r or the test split).",
        "pp",
        per_epoch=True,
    ),
    Column(
        "proxy_fa",
        "min",
        "Proxy part: |FA on D_f − θ_o's accuracy on held-out samples of the same classes, at most θ_o's own FA "
        "on D_f| (and FA itself on fully forgotten classes).",
        "pp",
        show=False,
    ),
    Column(
        "proxy_mia",
        "min",
        "Proxy part: |MIA-efficacy on D_f (fixed threshold fitted on θ_o) − its value on "
        "held-out samples, at least θ_o's own on D_f| (|MIA − 100| on fully forgotten classes).",
        "pp",
        show=False,
    ),
    Column(
        "proxy_dist",
        "min",
        "Proxy part: 100·W₁ between D_f's true-class confidence and θ_o's on held-out "
        "samples, capped quantile by quantile at θ_o's on D_f (on forgotten classes: proxy.mass_weight × proxy_mass).",
        "pp",
        show=False,
    ),
    Column(
        "proxy_mass",
        "min",
        "Where fully forgotten classes' inputs put their probability: 100·TV between their mean probabilities "
        "and θ_o's drop-and-renormalise ones, unweighted (a neighbour-class leak Avg.Gap does not see; 0 where "
        "no class is gone).",
        "pp",
        show=False,
    ),
    Column(
        "proxy_damage",
        "min",
        "Proxy part: accuracy lost against θ_o on a D_r sample and on held-out data (max(0, θ_o − θ) each, summed).",
        "pp",
        show=False,
    ),
    Column(
        "proxy_ra_loss",
        "min",
        "The D_r part of proxy_damage: RA points lost against θ_o on the D_r sample.",
        "pp",
        show=False,
    ),
    Column(
        "proxy_ra_loss_se",
        "min",
        "Standard error of proxy_ra_loss (per-sample differences paired with θ_o; stop='auto' keeps a state "
        "only if proxy_ra_loss + damage_z × this stays within max_damage).",
        "pp",
        show=False,
    ),
)


@METRICS.register("proxy")
class Proxy(Metric):
    """Retrain-free Avg.Gap estimate from θ_o, D_f, D_r and held-out data (never θ_r or the test split)."""

    name = "proxy"
    columns = PROXY_COLUMNS
    needs = frozenset({Need.ORIGINAL})
    Options = ProxyOptions

    def compute(self, model, ev: Evaluation) -> dict:
        self.check(ev)
        ref = ev.memo(
            ("proxy_reference", self.options.model_dump_json()),
            lambda: ProxyReference.build(ev.original, ev.dataset, ev.split, self.options, ev.device),
        )
        return ref.evaluate(model)
