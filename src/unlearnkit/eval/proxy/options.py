"""The proxy's options (``proxy:`` in a config, ``stopping.proxy`` under ``stop: auto``)."""

from __future__ import annotations

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat


class ProxyOptions(BaseModel):
    """Weights of the terms, subsample sizes and the seed of the fixed subsamples."""

    model_config = ConfigDict(extra="forbid")
    w_fa: float = Field(1.0, ge=0, description="weight of the forget-accuracy term")
    w_mia: float = Field(1.0, ge=0, description="weight of the MIA-efficacy term")
    w_dist: float = Field(1.0, ge=0, description="weight of the confidence-distribution / probability-mass term")
    w_damage: float = Field(1.0, ge=0, description="weight of the retain + unseen accuracy damage term")
    mass_weight: float = Field(
        0.1,
        ge=0,
        description="factor on the gone classes' mass term (proxy_mass) inside the distance term: Avg.Gap does "
        "not measure where a forgotten class's mass goes and θ_r itself reads 18–24 on it (digits), so at 1 it "
        "ranks class forgetting by another yardstick (pooled Spearman with Avg.Gap 0.75; 0.1: 0.87); raise it "
        "to weigh where the mass goes (the kind of leak MIA-NN probes) as much as the other terms",
    )
    max_forget: int = Field(2000, ge=1, description="D_f samples evaluated (a fixed seeded subsample)")
    max_retain: int = Field(
        2000,
        ge=1,
        description="D_r samples evaluated (RA damage, attack members); 2000 keeps the RA estimate's standard "
        "error near half a point, which the collapse guard needs (500 let RA losses of 6 points through; 1000 cut "
        "auto's cost on a 3000-image Fashion-MNIST subset from 1.36× to 1.22× per epoch but made the guard refuse "
        "ft's class removal on two confirmation cells)",
    )
    max_unseen: int = Field(5000, ge=1, description="held-out samples evaluated")
    prior: NonNegativeFloat | Literal["auto"] = Field(
        "auto",
        description="pseudo-samples pulling per-class targets toward the pooled one (0: purely per-class); "
        "'auto': estimated from the held-out data (empirical Bayes, :func:`empirical_prior`: all pooled where "
        "the classes' held-out accuracies differ by no more than their sampling noise). The fixed 10 it "
        "replaces: defaults transfer 445 → 448 of 480 cells won (seeds 3–5: 408 → 411), pooled Spearman of "
        "proxy_validation 0.875 → 0.860",
    )
    prior_shift: bool = Field(
        True,
        description="correct θ_o's targets for the class-prior change removing D_f causes (label shift: "
        "q ∝ p_θo·n_r(c)/n(c)); false: θ_o's own outputs (drop-and-renormalise only on gone classes)",
    )
    smoothing_z: NonNegativeFloat | None = Field(
        2.0,
        description="prior_shift on an under-confident θ_o (label smoothing, mixup: held-out accuracy above its mean "
        "top probability): read θ_o's probabilities as label smoothing's optimum p = (1−ε)·p_cal + ε/K, "
        "ε fitted on the held-out samples (accuracy minus mean top probability, less this many standard errors, "
        "over accuracy − 1/K; 0 where that is not positive), and correct p_cal for the prior shift, not p. "
        "Without it a digits MLP trained with label smoothing 0.2 (confidence ≈ 0.82 on every sample) had its "
        "half-removed class's target confidence moved to 0.70 where θ_r reads 0.80–0.84, and auto kept states "
        "MIA-efficacy put at 60–86 against θ_r's 17. null: off (p corrected as it is)",
    )
    attack: Literal["svc", "balanced"] = Field(
        "svc",
        description="how the fixed attack's threshold τ is fitted on θ_o (D_r sample vs held-out confidences): "
        "'svc' reads it off Avg.Gap's own attack (SalUn's RBF-SVC), 'balanced' maximises balanced accuracy "
        "(on a saturated θ_o that τ sits near 0.9999 and calls a model non-member for any slight loss of "
        "confidence, which Avg.Gap's MIA does not)",
    )
    attack_samples: int | None = Field(
        500,
        ge=2,
        description="'svc': at most this many samples a side in the attack's fit (the fit costs O(n²): 0.2 s at "
        "2000 a side, 15 ms at 500); null: all (the smaller side's size, as Avg.Gap's MIA)",
    )
    attack_refit: float | None = Field(
        0.6,
        ge=0.5,
        le=1.0,
        description="where θ_o's attack tells its D_r sample from held-out data with at least this balanced "
        "accuracy, re-fit the attack's threshold on every model scored (the same fit on its own D_r sample and "
        "held-out confidences), as Avg.Gap's MIA refits its attack on the model it reads; the targets stay θ_o's. "
        "A method that lowers every confidence a little (random labels on a memorising model) is then not read as "
        "one that calls D_f non-member: 100 classes of 60 rows, rl's kept state Avg.Gap 15.0 → 4.8. Below it the "
        "attack is near chance and a refitted threshold lands anywhere (Avg.Gap's own MIA swings so on COMPAS), so "
        "θ_o's is kept: digits MLP 0.52–0.53, Fashion-MNIST 3 000 0.59–0.61, the 100-class set 0.73. null: θ_o's "
        "threshold throughout (the gone classes always keep it)",
    )
    cap_at_original: bool = Field(
        True,
        description="a model retrained without D_f fits D_f no better than θ_o, which trained on it: cap D_f's "
        "targets at θ_o's own values on D_f — FA at most θ_o's, MIA-efficacy at least θ_o's, and the confidence "
        "distribution quantile by quantile at most θ_o's (exactly the held-out targets where θ_o fits D_f at "
        "least as well as held-out data, i.e. wherever it memorised D_f). It matters where D_f is harder than "
        "held-out data of its classes: a misclassified sample, atypical samples, a model that underfits",
    )
    label_check: bool = Field(
        True,
        description="compare how often D_f's labels agree with those of their nearest D_r samples (in the inputs "
        "and in θ_o's features) with the same for held-out samples; where D_f agrees markedly less (mislabelled, poisoned or "
        "atypical samples: a model retrained without them predicts what their neighbours say), the targets "
        "expect that share of D_f to be misclassified by a retrained model (FA, MIA and confidence scaled by "
        "the agreement ratio). Without it, a poisoned batch θ_o memorised scored θ_o 1.7 and θ_r 64: auto kept "
        "the poison",
    )
    label_gap: float = Field(
        0.2,
        gt=0,
        le=1,
        description="label_check: the shortfall of D_f's neighbour agreement below held-out data's (a fraction) "
        "that counts as mislabelled — it must also exceed 4 standard errors; a clean D_f, which θ_o trained on, "
        "agrees at least as often as held-out data",
    )
    label_neighbours: int = Field(10, ge=1, description="label_check: nearest D_r samples consulted per sample")
    label_screen: int | None = Field(
        500,
        ge=2,
        description="label_check: search first for a seeded subsample of this many D_f and held-out samples a "
        "side, and for all of them only where the subsample cannot rule out a shortfall (its shortfall plus 4 "
        "standard errors reaches label_gap): the same decision up to a 4-SE chance, at a fraction of the cost — "
        "the exact search was most of the reference's cost (0.23 of 0.32 s per call on an 18,000-image "
        "Fashion-MNIST subset); the reported agreements are then the subsample's; null: always all",
    )
    thin_below: float | None = Field(
        0.25,
        gt=0,
        lt=1,
        description="a class of D_f's partial part that D_r keeps less than this fraction of (a nearly removed class): "
        "a model retrained on the few samples left learns it far less well than θ_o did, which θ_o's held-out "
        "targets cannot show (digits, 97 % of class 7 removed: θ_r's FA 35 % where θ_o's held-out accuracy reads 97 "
        "%). Such a class is read by a retrained probe instead: a logistic regression on the inputs fitted on D_r, its "
        "accuracy on D_f's samples of the class over that of the same probe fitted on the training set on held-out "
        "samples of it (class-stratified samples of at most probe_per_class a class, weighted back to the class "
        "sizes); that share of them is aimed at held-out behaviour and the rest at misclassification with "
        "confidence ~0, as label_check's share is. It costs two fits: 0.05 s on digits, 2.4 s on 784-pixel "
        "images (one core), paid only where such a class is found. null: off",
    )
    probe_per_class: int = Field(
        300, ge=10, description="thin_below: training samples a class in each probe's fit (a seeded subsample)"
    )
    twin_check: bool = Field(
        True,
        description="find D_f samples with a near-duplicate of the same label left in D_r (a twin: a same-label D_r "
        "sample nearer in the inputs than all but twin_quantile of held-out samples are to theirs); where "
        "D_f has more of them than held-out data could explain (a binomial test at 1e-3 against held-out data's "
        "twin rate, its upper 99.9 % bound), a retrained model still fits those samples through their twins, so "
        "their targets are θ_o's values on the D_r sample of their classes, capped at its own on them. Without it every method moved a digits request whose "
        "samples all had copies in D_r to Avg.Gap 1–4 from θ_o's 0.14 (θ_r fits the copies: FA 100 %, MIA 0)",
    )
    twin_quantile: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="twin_check: a twin is nearer than this quantile of held-out samples' distances to their nearest "
        "same-label D_r sample — nearer than all but 1 % of held-out samples come (digits: 0.62 × their median, "
        "Fashion-MNIST 0.50, German credit 0.43; Adult and COMPAS 0, exact copies, which 4 % and 54 % of their "
        "held-out rows have); 0: as near as the nearest held-out sample",
    )
    match_group: bool = Field(
        True,
        description="where the data set has a group attribute (a sensitive attribute: Adult, COMPAS, German credit), "
        "match the held-out samples behind the targets to D_f's class × group mix, not its class mix alone: a "
        "request of one group's rows is read off held-out rows of that group",
    )
    shift_check: bool = Field(
        True,
        description="compare D_f's and the held-out samples' distances to their nearest same-label D_r sample "
        "(scaled per class by the held-out median; both lie outside D_r, so drawn alike they match): where D_f's "
        "median is below shift_ratio (or above its inverse) and a Mann–Whitney test rejects at shift_alpha, D_f and "
        "the held-out data are not drawn alike (held-out data from another source, or a request of unusual "
        "samples) and the targets it sets are not a retrained model's (stop='auto' warns). Held out as each digits "
        "class's 12 % most atypical samples, auto won 6 of 60 cells (48 worse than θ_o beyond the noise floor; half "
        "of class 2 over-forgotten to Avg.Gap 16–26); a request of each class's 10 % most atypical samples stopped "
        "at Avg.Gap 12–15 (θ_o 20.3). On 216 random held-out splits of five data sets it fired on none",
    )
    shift_ratio: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="shift_check: the median scaled distance below which (or above 1/this) D_f is"
        " held to lie nearer to (farther from) D_r than held-out data",
    )
    shift_alpha: float = Field(1e-3, gt=0, lt=1, description="shift_check: the Mann–Whitney test's level")
    twin_screen: int | None = Field(
        500,
        ge=2,
        description="twin_check: held-out samples (a seeded subsample) whose nearest same-label D_r distances set "
        "the threshold and the held-out twin rate; every held-out sample is searched only where the check fires. "
        "null: all",
    )
    input_cache_mb: NonNegativeFloat | None = Field(
        256,
        description="keep the fixed samples' model-ready inputs (float32, on the device) between evaluations where "
        "they take at most this many MiB — an evaluation then reads them instead of gathering and normalising the "
        "images again, which was half of it on a Fashion-MNIST MLP (5 600 samples: 17 MiB; CIFAR-sized inputs "
        "at the default sample sizes: 105 MiB); the logits are the same bit for bit. 0 or null: never",
    )
    seed: int = Field(0, description="seed of the fixed subsamples (and of the attack's balanced fit)")

    @property
    def weights(self) -> tuple[float, float, float, float]:
        """The weights of the fa, mia, dist and damage terms; proxy_gap is their weighted mean."""
        return (self.w_fa, self.w_mia, self.w_dist, self.w_damage)

    @property
    def damage_share(self) -> float:
        """The damage term's share of proxy_gap (its weight over the weights' sum; 0 where they sum to 0)."""
        total = sum(self.weights)
        return self.w_damage / total if total > 0 else 0.0
