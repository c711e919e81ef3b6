"""``proxy``: a retrain-free estimate of Avg.Gap, in the same units (percent points).

A user with a deletion request has θ_o, D_f, D_r and held-out data, never θ_r. The proxy reads only
θ_o (``ev.original``), the current model θ, D_f, D_r and the held-out ``split.unseen`` — never θ_r and
never the test split. Its principle: a model retrained without D_f treats D_f like data it never saw.
Every target below is FIXED ONCE from θ_o (a :class:`ProxyReference`); targets taken from the current
model would move with it (unlearning generalises to unseen samples of a class, so over-forgetting
would look perfect).

Definition (all sets are fixed seeded subsamples, ``options.seed``; percentages in [0, 100]):

D_f splits by class into a *gone* part G (samples of a class with no sample in D_r: class forgetting,
detected from the data) and a *partial* part P (random, long-tail, sub-class, explicit indices).
U = the unseen samples of the classes that are not gone. conf(x) = p_θ(y|x) (true-class confidence).

* Prior shift (``prior_shift``, on by default): removing D_f changes the class prior the model is trained
  on (a whole class: to 0; half of a class: by half; random forgetting: by almost nothing). A model
  retrained on D_r sees it; θ_o does not. So every target below reads θ_o's probabilities corrected for
  that label shift, q(c|x) ∝ p_θo(c|x)·r_c with r_c = n_r(c)/n(c), the fraction of class c's training
  samples D_r keeps (Saerens et al. 2002). Drop-and-renormalise is its limit for a gone class (r = 0).
  Without it, on data a model cannot memorise (COMPAS: θ_o's accuracy on D_f equals its held-out
  accuracy) the proxy scored θ_o ≈ 0.8 on sub-class forgetting while θ_r's FA was 16 points lower.
  The correction holds for calibrated probabilities. A θ_o trained with label smoothing (or mixup) is
  compressed toward uniform — 0.82 on a clear sample's class and 0.02 on each other with smoothing 0.2 —
  and read as it is, the correction takes that compression for uncertainty the prior can move (0.82 → 0.69
  for half a class removed, where a model retrained with the same smoothing stays at 0.80–0.84). So
  (``smoothing_z``, on by default) θ_o's probabilities are read as label smoothing's optimum
  p = (1−ε)·p_cal + ε/K with ε fitted on the held-out samples (:func:`smoothing_eps`: accuracy above the mean
  top probability, less 2 standard errors; 0 for a calibrated or over-confident θ_o, every model of the
  defaults-transfer grid and of ten of the eleven YAML grids), p_cal is corrected and mapped back.

* Reference weights over U (``target_weights``): w_i = (1−β)·π_P(c_i)/n_U(c_i) + β/|U| (class parts
  renormalised over the classes U has), π_P = P's class histogram, n_U(c) = unseen samples of class c,
  β = prior / (prior + median n_U(c) over P's classes): a per-class target pulled toward the pooled
  one where classes hold a handful of unseen samples (``prior`` pseudo-samples). ``prior="auto"`` (the
  default) estimates it from the held-out data by empirical Bayes (:func:`empirical_prior`): prior =
  p̂(1−p̂)/τ², τ² the spread of the classes' true accuracies beyond their sampling noise, so classes are
  pooled where their held-out accuracies differ by no more than chance (digits: about 14 held-out
  samples a class) and kept apart where they really differ (Fashion-MNIST's shirts and trousers). With
  the fixed 10 it replaces, a half-removed digit class read its MIA target off ~14 samples (digits
  sub-class 5 seed 2: target 9.4 % where θ_r reads 4.6 %, and four methods over-forgot). Where the data set has
  a group attribute, c is the class × group stratum (``match_group``, :func:`target_strata`).
* Attack: a fixed threshold τ on the true-class confidence, fitted once on θ_o (uncorrected) on the D_r
  sample (members) vs U (non-members): by default (``attack="svc"``) read off Avg.Gap's own attack,
  SalUn's RBF-SVC on balanced subsamples (:func:`svc_threshold`), so the proxy's MIA has the resolution
  of the MIA it estimates; ``"balanced"`` maximises balanced accuracy instead. The MIA-efficacy of a set
  is the percent of it with conf < τ (called non-member), as SalUn's. Where that SVC calls every
  confidence a member (τ = 0: θ_o does not tell members from held-out data), the gone part G below is read
  with :func:`gone_attack`'s τ instead (the gone classes' held-out share added to the non-members at 0).
  Where θ_o's attack has power — its balanced accuracy on the D_r sample vs U at least ``attack_refit`` (0.6) —
  P is read with the same fit on each scored model's own confidences instead (:meth:`ProxyReference.attack_threshold`;
  the targets stay θ_o's, and θ_o gets exactly its τ): on a memorising model a method that lowers every
  confidence a little (random labels) read as calling D_f non-member under θ_o's τ (100 classes of 60 rows: rl's
  states at Avg.Gap 4.8 scored 16.5 against 14.5 for one at 14.7). Near chance a refitted threshold lands anywhere
  (Avg.Gap's own MIA swings so on COMPAS; a refit everywhere lowered the proxy's Spearman on digits random 10 %
  from 0.56 to 0.45), so θ_o's is kept there.
* On P:   fa_P   = |FA_θ(P) − min(Σ_i w_i·100·1[argmax q(·|u_i) = y_i], FA_q(P))|
          mia_P  = |MIA_θ(P) − max(Σ_i w_i·100·1[q(y_i|u_i) < τ], MIA_q(P))|
          dist_P = 100·W₁(conf_θ on P, T),  Q_T(u) = min(Q_U(u), Q_P(u))
          where Q_U is the quantile function of the w-weighted q(y_i|u_i) on U, and FA_q(P), MIA_q(P), Q_P
          are θ_o's own (q-read) accuracy, MIA-efficacy and confidence quantiles on P: the cap at θ_o
          (``cap_at_original``, on by default). A model retrained without D_f fits D_f no better than θ_o,
          which trained on it, so the held-out targets are capped at θ_o's values, quantile by quantile for
          the confidences (MIA-efficacy, conf < τ, is then exactly T's mass below τ). Where θ_o fits D_f at
          least as well as held-out data — it memorised D_f, every image grid here — the cap changes
          nothing; where D_f is harder than held-out data of its classes (a sample θ_o misclassifies, atypical
          samples, a model that cannot memorise), the held-out targets alone asked for a model that fits D_f
          better than θ_o does: a one-sample request for a digit θ_o gets wrong scored θ_o 70 and moved scrub
          to classify it, at 3 points of RA; with the cap θ_o scores 0.02 and every method keeps it.
* Labels (``label_check``, on by default): where θ_o memorised D_f but D_f is labelled unlike data of
  its classes (mislabelled or poisoned samples, which a retrained model classifies by what they look
  like), neither the held-out targets nor the cap see it. So, once at build: each sample of P and of U
  votes with its k nearest D_r samples: agreement = the fraction with its label. Two spaces: the inputs,
  which no training moves (P and U are exchangeable there when D_f is clean), and θ_o's penultimate
  features (``model.features``), which see what θ_o learnt the classes look like but are pulled toward
  the labels of the samples it memorised. A clean P, which θ_o trained on, agrees at least as often as U;
  where P's mean agreement falls below U's (weighted to P's class mix, unshrunk) by more than ``label_gap`` (0.2) and 4
  standard errors, a = agree_P / agree_U (the smaller over the spaces where that holds) is the share of P
  labelled like held-out data, and the rest is expected misclassified by θ_r with confidence ~0, called
  non-member: FA target × a, MIA target 100 − (100 − MIA target)·a, and a point mass 1 − a at confidence 0
  in T (before the cap). The search runs first on a seeded subsample of ``label_screen`` (500) samples a
  side, and on all of them only where that subsample cannot rule the shortfall out (its shortfall plus 4
  standard errors reaches ``label_gap``): a clean D_f costs a fraction of the exact search, a suspect one
  gets it in full, and the decision differs only by a 4-SE chance (a poisoned 10 % of an 18 000-image
  Fashion-MNIST subset: the same share, agreements and targets as the exact search). A poisoned 10 % of
  digits (labels shifted to another class before training, θ_o trained 100 epochs: FA 100 % on the wrong
  labels) agreed 9 % against 96 % in the features, 1 % against 95 % in the inputs: without the check θ_o
  scored 1.7 and θ_r 64 and auto kept the poison; with it every method but ga (its cliff) and ssd removes
  most of it (``benchmarks/poisoned_batch.py``). On a 3000-image Fashion-MNIST subset the features agreed
  30 % against 79 % (memorisation shows), the inputs 2 % against 69 % (target FA 2.2 %, θ_r's 1.7 %); the methods still stop at FA 26–70 % there.
  Out of reach: a poison that moves the inputs' neighbourhoods themselves (a backdoor trigger).
* Nearly removed classes (``thin_below``, 0.25): a class of P that D_r keeps less than that fraction of is learnt
  by a retrained model from the few samples left, far less well than θ_o learnt it from all of them — which
  neither θ_o's held-out accuracy nor the prior correction (q ∝ p·r_c, with a saturated p) shows: digits, 97 % of
  class 7 removed, θ_r's FA 35 % where the held-out target read 97 %. Such a class is read by a retrained probe
  (:func:`thin_share`): a multinomial logistic regression on the standardised inputs (:func:`probe`, a class-
  stratified sample of at most ``probe_per_class`` a class weighted back to the class sizes) fitted on D_r and
  scored on P's samples of the class, over the same probe fitted on the training set and scored on U's samples
  of it. The share a of P the ratios leave (1 for P's other classes) enters as ``label_check``'s share does: FA
  target × a, MIA 100 − (100 − MIA)·a, a point mass 1 − a at confidence 0 in T. On digits (classes 7, 3, 2 at
  80 / 90 / 97 % removed) the FA targets came to 81–90 / 67–81 / 16–47 % against θ_r's 76–91 / 74–80 / 31–44 %
  (without: 94–99 % throughout); on Fashion-MNIST 3 000 within 5 points of θ_r's in 7 of 7 cases. Classes that
  keep more (half of a class, long-tail requests) are read as before: no grid of the record has a class below
  0.25 but the 35 % long-tail of ``unnamed_grid_big_forget.yaml``.
* Twins (``twin_check``, on by default): a D_f sample whose copy (the same label, the same or nearly the same
  input) stays in D_r is fitted by a retrained model through the copy — it is not data θ_r never saw. Each
  sample of P and a seeded ``twin_screen`` (500) of U finds its nearest same-label D_r sample among all of D_r
  (:func:`nearest_same_label`); distances are scaled by the class's median held-out distance
  (:func:`scaled_distances`), and a twin is nearer than the ``twin_quantile`` (1 %) quantile of U's. Where P has
  more twins than U's rate, weighted to P's class mix, could explain (:func:`twin_excess`: a binomial test at
  1e-3 against that rate's upper 99.9 % bound), P's twins are aimed at what θ_o does on the D_r sample of their
  classes — a retrained model fits them as it fits its training samples — capped at θ_o's own (q-read) values on
  them, which it saw twice (:func:`member_targets`). With s the twins' share of P: FA target s·(their target) +
  (1 − s)·(the target above, from U's samples without a twin for P's without one), MIA likewise, and T the
  mixture of the twins' capped T (weight s) and the rest's.
  A request whose every sample was copied into the digits training pool: without it θ_o and θ_r scored 3.2–4.5
  (θ_r fits the copies, FA 100 %) and every method moved to Avg.Gap 1–4 from θ_o's 0.14; with it both score
  0.4–0.7 and the methods stay at 0.15 (``benchmarks/duplicate_requests.py``). Copies distorted as far as a held-out sample's nearest
  neighbour is are not twins.
* Shift (``shift_check``, on by default; a reading, not a target): P and U both lie outside D_r, so where U is drawn
  like the training data their twin-search distances, scaled per class, match. P's median scaled distance beyond
  ``shift_ratio`` (0.8) or its inverse, with a Mann–Whitney rejection at ``shift_alpha``, marks P and U as drawn
  otherwise (:func:`distance_shift`; U from another source, or P a pick of unusual samples): U's accuracy is then not
  a retrained model's on P, and ``unlearn`` warns (not where the label check fired: it explains P's distances).
* On G:   fa_G   = FA_θ(G) (θ_r never predicts a class it never saw);  mia_G = |MIA_θ(G) − 100|
          dist_G = mass_weight · proxy_mass,  proxy_mass = 100·TV(mean_x p_θ(·|x), mean_x q(·|x)) over G
          (q: θ_o's probabilities with the gone classes dropped and renormalised — where θ_r puts the mass
          of a forgotten class's input, compared in aggregate: per sample, θ_o's renormalised residual
          probabilities are a poor guess of θ_r's, which scored θ_r itself 28 on digits class 3; in
          aggregate 18–24, 5 on Fashion). ``mass_weight`` is 0.1 by default: Avg.Gap does not measure
          where the mass goes (rl, random labels, reads 42–60 at Avg.Gap 0.1–1), so at weight 1 the term
          ranked class forgetting by another yardstick than the one the proxy estimates, and θ_r's own
          reading made it most of the class floor; with 0.1 the pooled Spearman of
          ``benchmarks/proxy_validation.py`` rose from 0.75 to 0.87 and the term still separates runs that
          remove the class equally well. The unweighted term is the ``proxy_mass`` column.
* fa, mia, dist = the size-weighted means of the P and G parts.
* damage = max(0, RA_ref − RA_θ) on the D_r sample + max(0, UA_ref − UA_θ) on U, where each baseline is
  the lower of θ_o's accuracy and q's (unlearning must not cost accuracy on retained or held-out data of
  the kept classes, beyond what the prior shift itself costs a retrained model).
* proxy_gap = (w_fa·fa + w_mia·mia + w_dist·dist + w_damage·damage) / (w_fa + w_mia + w_dist + w_damage)

A model equal to θ_o on a D_f that is really unseen data scores exactly 0 when the removal leaves the
class prior as it was (tests/test_proxy.py).
Departures from Avg.Gap's MIA on purpose: SalUn refits its RBF-SVC on θ's own D_r vs D_t features for
every model; refitting per model adds noise that swamps the differences between nearby models (the
prototype's finding; a per-model threshold refit measured Spearman 0.70 → 0.64), so the attack is
fitted on θ_o, and re-fitted per model only where θ_o's attack has power (``attack_refit``, above). It is the same
SVC, though: the balanced-accuracy threshold this proxy used before
sits near 0.9999 on a saturated θ_o and called most of D_f non-member after any slight loss of
confidence (rl, off class forgetting: proxy MIA term 22.6 against a true |ΔMIA| of 14.7 on average); with the SVC's τ the
pooled Spearman of ``benchmarks/proxy_validation.py`` rose from 0.70 to 0.74 (0.75 with the aggregate
dist_G).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat
from scipy.optimize import brentq

from ..errors import UnlearnkitError
from ..models.head import penultimate
from .base import METRICS, Column, Evaluation, Metric, Need
from .mia import fit_attack
from ..passes import record
from ..predict import map_batches, map_inputs, predict_inputs, predict_logits

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


# pure functions -------------------------------------------------------------------------------------
def gone_classes(forget_labels: np.ndarray, retain_labels: np.ndarray) -> np.ndarray:
    """Classes of D_f with no sample left in D_r (class forgetting), sorted."""
    return np.setdiff1d(np.unique(forget_labels), np.unique(retain_labels))


def target_weights(unseen_labels: np.ndarray, forget_labels: np.ndarray, num_classes: int, prior: float) -> np.ndarray:
    """Weights (sum 1) over unseen samples that make them look like D_f's class mix, shrunk toward
    uniform: (1−β)·π_f(c)/n_u(c) + β/N_u, β = prior/(prior + median n_u(c) over D_f's classes)."""
    n = len(unseen_labels)
    if n == 0:
        return np.zeros(0)
    n_u = np.bincount(unseen_labels, minlength=num_classes).astype(float)
    pi = np.bincount(forget_labels, minlength=num_classes).astype(float)
    pi[n_u == 0] = 0.0
    pooled = np.full(n, 1.0 / n)
    if pi.sum() == 0:
        return pooled
    pi /= pi.sum()
    per_class = pi[unseen_labels] / n_u[unseen_labels]
    m = float(np.median(n_u[pi > 0]))
    beta = 1.0 if np.isinf(prior) else prior / (prior + m) if prior + m > 0 else 1.0
    return (1 - beta) * per_class + beta * pooled


def target_strata(dataset, o: ProxyOptions) -> tuple[np.ndarray, int]:
    """Per dataset index, the stratum whose held-out samples stand in for D_f's samples of it, and their number: the
    class, or with ``match_group`` and a data set with a ``group`` attribute, class × group (a request of one group's
    rows — a region, a cohort — is read off held-out rows of that group: Adult, half of group 1's rows, the FA target
    80.9 → 79.7 % against θ_r's 77.3 %, 30 % of group 0's 85.5 → 90.3 % against 93.0 %)."""
    labels = np.asarray(dataset.labels, np.int64)
    group = getattr(dataset, "group", None)
    if not o.match_group or group is None:
        return labels, dataset.num_classes
    g = np.asarray(group.cpu() if isinstance(group, torch.Tensor) else group, np.int64)
    n_groups = int(g.max()) + 1 if len(g) else 1
    return labels * n_groups + g, dataset.num_classes * n_groups


def empirical_prior(labels: np.ndarray, right: np.ndarray) -> float:
    """The pseudo-sample count of :func:`target_weights` estimated from the held-out data (empirical Bayes,
    method of moments): with p̂ the pooled rate of ``right`` and p̂_c each class's, the sampling variance of
    p̂_c is σ_c² = p̂(1−p̂)/n_c and the spread of the true class rates is τ² = max(0, mean_c (p̂_c − p̂)² −
    mean_c σ_c²); shrinking p̂_c by β_c = σ_c²/(σ_c² + τ²) is :func:`target_weights`' β with
    prior = p̂(1−p̂)/τ². ``inf`` (pool every class) where the classes' rates differ by no more than their
    sampling noise, or where every sample is right (or every one wrong). Classes with fewer than 2 samples
    are left out of the estimate."""
    _, inverse, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    right = np.asarray(right, float)
    keep = counts >= 2
    if keep.sum() < 2:
        return float("inf")
    n_c = counts[keep].astype(float)
    rates = np.bincount(inverse, weights=right)[keep] / n_c
    p = float(np.sum(rates * n_c) / n_c.sum())  # the pooled rate over the kept classes' samples
    v = p * (1.0 - p)
    if v == 0.0:
        return float("inf")
    tau2 = float(np.mean((rates - p) ** 2) - np.mean(v / n_c))
    return v / tau2 if tau2 > 0 else float("inf")


def embeddings(
    model, dataset, idx: np.ndarray, device: torch.device, inputs: torch.Tensor | None = None
) -> list[np.ndarray]:
    """Where to look for ``dataset[idx]``'s neighbours: the flattened inputs (which no training can move) and, for
    a model whose penultimate layer is known (:func:`~unlearnkit.models.head.penultimate`: the built-in models, an
    ``nn.Sequential`` ending in an ``nn.Linear``), its penultimate features (what θ_o learnt the classes look
    like, but pulled toward their labels for the samples it memorised); float32 on the host, one batched pass
    (over ``inputs``, those samples' model-ready inputs, where given)."""
    found = penultimate(model)
    feats = found[0] if found is not None else None
    if isinstance(feats, nn.Module) and next(feats.parameters(), None) is None:
        feats = None  # nothing learnt before the head (a Sequential(Flatten, Linear)): the inputs again
    spaces = [lambda x: x] + ([feats] if feats is not None else [])

    def fn(x: torch.Tensor) -> list[torch.Tensor]:
        if feats is not None:
            record(model, len(x))  # the features pass, which the model's forward hook does not see
        return [f(x).flatten(1).float().cpu() for f in spaces]

    parts = map_batches(model, dataset, idx, fn, device=device) if inputs is None else map_inputs(model, inputs, fn)
    return [torch.cat([p[i] for p in parts]).numpy() for i in range(len(spaces))] if parts else []


def neighbour_agreement(ref_x: np.ndarray, ref_y: np.ndarray, x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per query sample, the fraction of its ``k`` nearest reference samples (Euclidean, exact) whose label is
    the query's: the neighbours scikit-learn's brute-force :class:`~sklearn.neighbors.NearestNeighbors` finds
    (the tests compare), from one ``torch.cdist`` and a ``topk`` — about half its time on 784-pixel inputs,
    where this search is most of the proxy reference's cost. Where distances tie at the k-th place either
    may keep a different one of the tied samples."""
    if len(x) == 0 or len(ref_x) == 0:
        return np.zeros(len(x))
    r, q = torch.from_numpy(np.asarray(ref_x, np.float32)), torch.from_numpy(np.asarray(x, np.float32))
    nb = torch.cdist(q, r).topk(min(k, len(ref_x)), dim=1, largest=False).indices.numpy()
    return (np.asarray(ref_y)[nb] == np.asarray(y)[:, None]).mean(1)


def label_share(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray, gap: float) -> float | None:
    """The share of D_f whose labels look as trustworthy as held-out data's: mean agreement on D_f over the
    ``w_u``-weighted mean on held-out samples (the same class mix), clipped to [0, 1] — or None where D_f's
    agreement is not below the held-out one's by more than ``gap`` and 4 standard errors (a clean D_f)."""
    if len(agree_f) < 2 or len(agree_u) < 2:
        return None
    a_f, a_u, se = agreement_means(agree_f, agree_u, w_u)
    if a_u <= 0 or a_u - a_f <= max(gap, 4.0 * se):
        return None
    return float(np.clip(a_f / a_u, 0.0, 1.0))


def agreement_means(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray) -> tuple[float, float, float]:
    """Mean agreement on D_f, the ``w_u``-weighted mean on held-out samples, and the standard error of their
    difference (D_f's sample variance over its size plus the weighted mean's Σw²·(a − ā)²)."""
    w = np.asarray(w_u, float) / np.sum(w_u)
    a_f, a_u = float(np.mean(agree_f)), float(np.sum(w * agree_u))
    se = float(np.sqrt(np.var(agree_f, ddof=1) / len(agree_f) + np.sum(w**2 * (agree_u - a_u) ** 2)))
    return a_f, a_u, se


def clearly_clean(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray, gap: float) -> bool:
    """Whether a subsample's agreements rule out a shortfall of ``gap``: D_f's shortfall below the held-out
    mean plus 4 standard errors stays under it (then the full sets' shortfall exceeds ``gap`` only by a
    4-SE chance, and :func:`label_share` on them would not fire)."""
    if len(agree_f) < 2 or len(agree_u) < 2:
        return False
    a_f, a_u, se = agreement_means(agree_f, agree_u, w_u)
    return a_u - a_f + 4.0 * se < gap


def check_labels(
    original,
    dataset,
    retain: np.ndarray,
    partial: np.ndarray,
    unseen: np.ndarray,
    o: ProxyOptions,
    device,
    inputs: torch.Tensor | None = None,
) -> tuple[float | None, float, float]:
    """``label_check``: (the share of D_f's partial part ``partial`` labelled like held-out data, or None; the
    mean neighbour agreement on it; the held-out one's), in the space where D_f looks least like held-out data.
    Each space first searches a seeded subsample of ``label_screen`` samples a side, and all of them only where
    that subsample cannot rule out the shortfall (:func:`clearly_clean`). ``inputs``: the model-ready inputs of
    ``retain``, ``partial`` and ``unseen`` in that order, where the reference keeps them."""
    labels = np.asarray(dataset.labels)
    queries = np.concatenate([partial, unseen])  # one pass over all three sets, one search a space
    # D_f's class mix exactly (no shrinkage toward the pool: agreement differs by class far more than accuracy
    # does, e.g. Fashion-MNIST's coats in pixel space); the SE counts the cost
    w_c = target_weights(labels[unseen], labels[partial], dataset.num_classes, 0.0)
    n = o.label_screen
    screen = n is not None and (len(partial) > n or len(unseen) > n)
    if screen:  # positions in partial / unseen; its own generator, so the reference's other subsamples stay put
        gen = np.random.default_rng([o.seed, 1])
        s_f = np.sort(gen.permutation(len(partial))[:n])
        s_u = np.sort(gen.permutation(len(unseen))[:n])
        w_s = target_weights(labels[unseen[s_u]], labels[partial], dataset.num_classes, 0.0)
    found = []  # (share or None, agreement on D_f, on held-out) per space
    for e in embeddings(original, dataset, np.concatenate([retain, queries]), device, inputs):
        e_r, e_f, e_u = e[: len(retain)], e[len(retain) : len(retain) + len(partial)], e[len(retain) + len(partial) :]
        if screen:
            agree_f, agree_u = (
                neighbour_agreement(e_r, labels[retain], x, labels[idx], o.label_neighbours)
                for x, idx in ((e_f[s_f], partial[s_f]), (e_u[s_u], unseen[s_u]))
            )
            if clearly_clean(agree_f, agree_u, w_s, o.label_gap):
                found.append((None, *agreement_means(agree_f, agree_u, w_s)[:2]))
                continue
        agree = neighbour_agreement(e_r, labels[retain], e[len(retain) :], labels[queries], o.label_neighbours)
        agree_f, agree_u = agree[: len(partial)], agree[len(partial) :]
        a_f, a_u = float(np.mean(agree_f)), float(np.sum(w_c * agree_u))  # (w_c sums to 1; one sample has no SE)
        found.append((label_share(agree_f, agree_u, w_c, o.label_gap), a_f, a_u))
    # the space where D_f looks least like held-out data (a memorised poison shows less in features)
    _, a_f, a_u = min(found, key=lambda t: t[1] / max(t[2], 1e-12))
    fired = [t[0] for t in found if t[0] is not None]
    return (min(fired) if fired else None), a_f, a_u


TWIN_DIMS = 32  # nearest_same_label's projection: inputs with more features are searched in this many
SMALL_SEARCH = 2**22  # nearest_same_label: below this many (query, D_r) pairs, one search for every class at once
BLOCK_ELEMENTS = 2**26  # nearest_same_label: input elements (float32) a block of D_r holds at most


def nearest_same_label(
    dataset, retain: np.ndarray, queries: np.ndarray, block: int = 4096, dims: int = TWIN_DIMS
) -> tuple[np.ndarray, np.ndarray]:
    """Per query sample, the Euclidean distance (flattened model-ready inputs) to a nearest D_r sample of its own
    label, and that sample's dataset index: ``inf`` and −1 where its class has none in ``retain``. One search a
    class over every D_r sample of it (no subsample: a twin must not be missed), in blocks of ``block`` samples
    (fewer where ``BLOCK_ELEMENTS`` would be exceeded; where all of D_r fits one block and there are at most
    ``SMALL_SEARCH`` pairs, one search over all of it, other labels masked: the same answer in fewer calls). Inputs
    of more than 2 × ``dims`` features are compared through a fixed seeded Gaussian projection to ``dims`` (a
    Johnson–Lindenstrauss sketch: distances kept to about ±12 %, at a 25th of the cost on 784-pixel images) and
    the distance returned is the exact one to the sample found that way: at least the nearest's, and equal to it
    wherever one sample is much nearer than the rest — what a twin is. Exact search below that size."""
    labels = np.asarray(dataset.labels)
    retain, queries = np.asarray(retain, np.int64), np.asarray(queries, np.int64)
    dist, nearest = np.full(len(queries), np.inf), np.full(len(queries), -1, np.int64)
    if len(queries) == 0:
        return dist, nearest
    y_r, y_q = labels[retain], labels[queries]
    width = math.prod(dataset.input_shape)
    proj = None
    if width > 2 * dims:
        gen = torch.Generator().manual_seed(width)
        proj = (torch.randn(width, dims, generator=gen) / math.sqrt(dims)).to(dataset.x.device)
    block = max(64, min(block, BLOCK_ELEMENTS // width))  # a block's inputs stay near 256 MiB however wide
    if len(retain) <= block and len(queries) * len(retain) <= SMALL_SEARCH:  # one masked search: fewer calls
        x_q = dataset.inputs(torch.as_tensor(queries)).flatten(1).float()
        x_r = dataset.inputs(torch.as_tensor(retain)).flatten(1).float()
        d = torch.cdist(x_q, x_r) if proj is None else torch.cdist(x_q @ proj, x_r @ proj)
        other = torch.as_tensor(y_q[:, None] != y_r[None, :], device=d.device)
        i = d.masked_fill_(other, float("inf")).argmin(1)
        found = torch.isfinite(d.gather(1, i[:, None])[:, 0]).cpu().numpy()
        exact = (x_q - x_r[i]).norm(dim=1).double().cpu().numpy()
        return np.where(found, exact, np.inf), np.where(found, retain[i.cpu().numpy()], -1)
    for c in np.unique(y_q):
        at, pool = np.flatnonzero(y_q == c), retain[y_r == c]
        if len(pool) == 0:
            continue
        x_q = dataset.inputs(torch.as_tensor(queries[at])).flatten(1).float()
        z_q = x_q if proj is None else x_q @ proj
        best_d = torch.full((len(at),), float("inf"), device=x_q.device)
        best_i = torch.zeros(len(at), dtype=torch.int64, device=x_q.device)
        for start in range(0, len(pool), block):
            x_r = dataset.inputs(torch.as_tensor(pool[start : start + block])).flatten(1).float()
            i = torch.cdist(z_q, x_r if proj is None else x_r @ proj).argmin(1)
            d = (x_q - x_r[i]).norm(dim=1)  # exactly: cdist's matrix product leaves ~1e-3 on an exact copy
            better = d < best_d
            best_d, best_i = torch.where(better, d, best_d), torch.where(better, i + start, best_i)
        dist[at], nearest[at] = best_d.double().cpu().numpy(), pool[best_i.cpu().numpy()]
    return dist, nearest


@dataclass
class Twins:
    """``twin_check``'s finding (:func:`find_twins`): which samples of D_f's partial part and of the held-out
    samples have a twin in D_r, and the D_r index of each D_f sample's nearest same-label sample."""

    forget: np.ndarray  # bool over D_f's partial part
    unseen: np.ndarray  # bool over the held-out samples
    nearest: np.ndarray  # per D_f partial sample: its nearest same-label D_r sample (dataset index; −1: none)
    threshold: float  # the twin distance, over the class's held-out median (scaled_distances)
    held_out_rate: float  # the held-out (screened) samples' twin rate, weighted to D_f's class mix


TWIN_ALPHA = 1e-3  # twin_check's test level, both for held-out data's twin rate bound and for D_f's excess


def twin_excess(k_f: int, n_f: int, rate: float, n_u: float, alpha: float = TWIN_ALPHA) -> bool:
    """Whether ``k_f`` twins among ``n_f`` D_f samples are more than held-out data's twin ``rate`` (from an
    effective ``n_u`` samples) could explain: P(Binomial(n_f, r) ≥ k_f) < ``alpha`` at r = the upper 1 − ``alpha``
    Clopper–Pearson bound of the held-out rate (so neither held-out samples that happened to have no twin nor
    D_f's own count fire it by chance: on digits, 144 held-out samples with none, 3 twins fire it, 2 do not)."""
    from scipy.stats import beta, binom

    if k_f == 0 or n_u <= 0:
        return False
    k_u = rate * n_u
    r = 1.0 if k_u >= n_u else float(beta.ppf(1.0 - alpha, k_u + 1, n_u - k_u))
    return bool(binom.sf(k_f - 1, n_f, r) < alpha)


def class_scales(d_ref: np.ndarray, y_ref: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class, the median of ``d_ref`` over its reference samples (the pooled median where the class has fewer
    than 5): the scale :func:`scaled_distances` divides by. Classes differ in how near their samples lie to each
    other (Fashion-MNIST's trousers have near-identical neighbours a class of bags does not)."""
    finite = np.isfinite(d_ref)
    scale = np.full(num_classes, float(np.median(d_ref[finite])) if finite.any() else 0.0)
    for c in np.unique(y_ref[finite]):
        ref = d_ref[(y_ref == c) & finite]
        if len(ref) >= 5:
            scale[c] = float(np.median(ref))
    return scale


def scaled_distances(d: np.ndarray, y: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``d`` over its class's scale (:func:`class_scales`). Where that is 0 (most samples of the class have an exact
    copy: COMPAS's coarse rows) a distance of 0 scales to 0 and any other to inf."""
    scale = scales[np.asarray(y, np.int64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d / scale
    out[(scale == 0) & (d == 0)] = 0.0
    return np.where(np.isnan(out), np.inf, out)


@dataclass
class Thin:
    """``thin_below``'s reading (:func:`thin_share`): per nearly removed class, its kept fraction, the retrained
    probe's accuracy on D_f's samples of it and the training-set probe's on held-out samples of it; and the share of
    D_f's partial part expected right (the other classes' samples count as right)."""

    classes: dict  # class → (kept fraction, probe on D_f, probe on held-out)
    share: float


PROBE_MAX_ITER = 100  # lbfgs iterations of thin_below's probe (500: the same shares to 0.031, 1.8× the time)
PROBE_DIMS = 1024  # thin_below's probe: inputs with more features are read through a seeded projection to this many
PROBE_SAMPLES = 30_000  # thin_below's probe: samples a fit reads at most (per_class shrinks with many classes)


def probe_features(dataset, idx: np.ndarray) -> np.ndarray:
    """The probe's features for ``dataset[idx]``: the flattened model-ready inputs (float64), or for inputs of more
    than ``PROBE_DIMS`` features a fixed seeded Gaussian projection of them to ``PROBE_DIMS`` (a linear model on a
    Johnson–Lindenstrauss sketch: bounded memory on CIFAR- or ImageNet-sized inputs; digits and Fashion-MNIST are
    read as they are)."""
    x = dataset.inputs(torch.as_tensor(np.asarray(idx, np.int64))).flatten(1).double()
    width = x.shape[1]
    if width > PROBE_DIMS:
        gen = torch.Generator().manual_seed(width)
        x = x @ (torch.randn(width, PROBE_DIMS, generator=gen, dtype=torch.float64) / math.sqrt(PROBE_DIMS)).to(
            x.device
        )
    return x.cpu().numpy()


def probe(dataset, pool: np.ndarray, per_class: int, seed: int):
    """A multinomial logistic regression on the standardised :func:`probe_features` of a class-stratified seeded
    sample of ``pool`` (at most ``per_class`` a class, and ``PROBE_SAMPLES`` in all), each sample weighted by its
    class's size over its sample's: the fit of all of ``pool`` in expectation, at a bounded cost. (scaler,
    classifier)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(dataset.labels)
    gen = np.random.default_rng([seed, 3])
    idx, w = [], []
    classes = np.unique(labels[pool])
    per_class = min(per_class, max(10, PROBE_SAMPLES // len(classes)))  # many classes: fewer a class
    for c in classes:
        members = pool[labels[pool] == c]
        chosen = np.sort(gen.permutation(members)[:per_class])
        idx.append(chosen)
        w.append(np.full(len(chosen), len(members) / len(chosen)))
    at = np.concatenate(idx)
    x = probe_features(dataset, at)
    scaler = StandardScaler().fit(x)
    with warnings.catch_warnings():  # the iteration cap is deliberate (PROBE_MAX_ITER): no ConvergenceWarning
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=PROBE_MAX_ITER).fit(
            scaler.transform(x), labels[at], sample_weight=np.concatenate(w)
        )
    return scaler, clf


def thin_share(dataset, split, partial: np.ndarray, unseen: np.ndarray, o: ProxyOptions) -> Thin | None:
    """``thin_below``: for each class of ``partial`` (D_f's partial part) that D_r keeps less than ``thin_below`` of,
    how much of it a model retrained on D_r still classifies — a :func:`probe` fitted on D_r, scored on those D_f
    samples, over the same probe fitted on the training set, scored on held-out samples of the class (clipped to [0,
    1]; 1 where the class has no held-out sample) — and the share of ``partial`` expected right. None where no class
    is that thin."""
    if o.thin_below is None or len(partial) == 0:
        return None
    labels = np.asarray(dataset.labels)
    kept = kept_fraction(labels[split.train], labels[split.retain], dataset.num_classes)
    thin = [int(c) for c in np.unique(labels[partial]) if 0 < kept[c] < o.thin_below]
    if not thin:
        return None
    fitted = [probe(dataset, np.asarray(pool), o.probe_per_class, o.seed) for pool in (split.retain, split.train)]

    def accuracy(which: int, idx: np.ndarray, c: int) -> float:
        scaler, clf = fitted[which]
        return float(np.mean(clf.predict(scaler.transform(probe_features(dataset, idx))) == c))

    classes, right = {}, float(np.sum(~np.isin(labels[partial], thin)))
    for c in thin:
        f_c, u_c = partial[labels[partial] == c], unseen[labels[unseen] == c]
        on_f = accuracy(0, f_c, c)
        on_u = accuracy(1, u_c, c) if len(u_c) else float("nan")
        ratio = min(1.0, on_f / on_u) if len(u_c) and on_u > 0 else 1.0
        classes[c] = (float(kept[c]), on_f, on_u)
        right += ratio * len(f_c)
    return Thin(classes, right / len(partial))


@dataclass
class Distances:
    """Each D_f partial sample's and a seeded ``twin_screen`` of held-out samples' distance to their nearest
    same-label D_r sample (:func:`nearest_same_label`), what the twin check and the shift check read."""

    s_u: np.ndarray  # positions (in ``unseen``) of the screened held-out samples
    d_u: np.ndarray  # their distances
    d_f: np.ndarray  # D_f's partial part's distances
    nearest_f: np.ndarray  # … and the D_r index of each one's nearest (−1: none)
    scales: np.ndarray  # per class, the held-out median (:func:`class_scales`)


def nearest_distances(
    dataset, retain: np.ndarray, partial: np.ndarray, unseen: np.ndarray, o: ProxyOptions
) -> Distances | None:
    """:class:`Distances` over all of D_r (``retain``), or None where D_f has no partial part, there is no held-out
    sample, or no screened held-out sample has a same-label D_r sample."""
    if len(partial) == 0 or len(unseen) == 0:
        return None
    labels = np.asarray(dataset.labels)
    n = o.twin_screen
    s_u = np.arange(len(unseen))
    if n is not None and len(unseen) > n:
        s_u = np.sort(np.random.default_rng([o.seed, 2]).permutation(len(unseen))[:n])
    d_u, _ = nearest_same_label(dataset, retain, unseen[s_u])
    if not np.isfinite(d_u).any():
        return None
    d_f, nearest = nearest_same_label(dataset, retain, partial)
    return Distances(s_u, d_u, d_f, nearest, class_scales(d_u, labels[unseen[s_u]], dataset.num_classes))


def find_twins(
    dataset,
    retain: np.ndarray,
    partial: np.ndarray,
    unseen: np.ndarray,
    o: ProxyOptions,
    dist: Distances | None = None,
) -> Twins | None:
    """``twin_check``: D_f samples (of its partial part) with a twin in D_r — a D_r sample of the same label nearer
    than all but ``twin_quantile`` of the held-out samples (a seeded ``twin_screen`` of them) are to their nearest
    same-label D_r sample, distances scaled by their class's held-out median (:func:`class_scales`) — or None
    where D_f has no more twins than held-out samples of its classes (weighted to D_f's class mix) could explain
    (:func:`twin_excess`; data with many exact duplicates, COMPAS's coarse rows, has them at the same rate in
    both) or no distances could be read. ``dist``: :func:`nearest_distances`' (searched here where not given).
    ``retain`` is all of D_r."""
    dist = dist or nearest_distances(dataset, retain, partial, unseen, o)
    if dist is None:
        return None
    labels = np.asarray(dataset.labels)
    s_u, scales = dist.s_u, dist.scales
    y_s = labels[unseen[s_u]]
    r_u = scaled_distances(dist.d_u, y_s, scales)
    t = float(np.quantile(r_u[np.isfinite(r_u)], o.twin_quantile)) if np.isfinite(r_u).any() else 0.0
    near_f = scaled_distances(dist.d_f, labels[partial], scales) <= t
    w = target_weights(y_s, labels[partial], dataset.num_classes, 0.0)  # held-out data of D_f's class mix
    rate = float(np.sum(w * (r_u <= t)))
    if not twin_excess(int(near_f.sum()), len(partial), rate, 1.0 / float(np.sum(w**2))):
        return None
    near_u = np.zeros(len(unseen), bool)
    near_u[s_u] = r_u <= t
    rest = np.setdiff1d(np.arange(len(unseen)), s_u)
    if len(rest):
        d_rest = nearest_same_label(dataset, retain, unseen[rest])[0]
        near_u[rest] = scaled_distances(d_rest, labels[unseen[rest]], scales) <= t
    return Twins(near_f, near_u, np.where(near_f, dist.nearest_f, -1), t, rate)


@dataclass
class Shift:
    """``shift_check``'s reading (:func:`distance_shift`): the median of D_f's partial part's nearest same-label D_r
    distances over their class's held-out median (1 where held-out data is drawn like D_f), the two-sided
    Mann–Whitney p-value of those scaled distances against the held-out samples' own, and whether both say the
    held-out data is not drawn like the training data."""

    ratio: float
    p: float
    shifted: bool


def distance_shift(
    dataset,
    partial: np.ndarray,
    unseen: np.ndarray,
    dist: Distances | None,
    o: ProxyOptions,
    twins: np.ndarray | None = None,
) -> Shift | None:
    """``shift_check``: D_f's partial part and held-out data are both outside D_r, so where both are drawn like the
    training data their distances to the nearest same-label D_r sample, scaled per class by the held-out median,
    have the same distribution (median 1). Held-out data drawn otherwise — the most atypical samples, a later
    period, another source — lies farther (or nearer), and its accuracy and confidence, which the proxy's targets
    for D_f are, are not what a retrained model shows on D_f. Shifted where the median of D_f's scaled distances
    over the held-out samples' (the ratio) is below ``shift_ratio`` or above its inverse and a Mann–Whitney test
    rejects equal distributions at
    ``shift_alpha``. Exact copies (distance 0: the twin check's business) are left out, as are classes whose
    held-out median is 0 (most samples have an exact copy in D_r: COMPAS's coarse rows) and samples without a
    same-label D_r sample; None with fewer than 10 samples a side. ``twins``: a bool mask over ``partial`` of the
    samples the twin check found (a near-copy in D_r, its own business), left out too.

    It cannot tell which side was drawn otherwise: a request that picks unusual samples (the most atypical of their
    class: ratio 1.29–1.41 on digits and Fashion-MNIST) reads like held-out data of typical ones, and either way the held-out
    targets are not what a retrained model shows on D_f."""
    from scipy.stats import mannwhitneyu

    if dist is None:
        return None
    labels = np.asarray(dataset.labels)
    y_f, y_u = labels[partial], labels[unseen[dist.s_u]]
    own = np.ones(len(partial), bool) if twins is None else ~np.asarray(twins, bool)
    r_f = scaled_distances(dist.d_f, y_f, dist.scales)[(dist.scales[y_f] > 0) & (dist.d_f > 0) & own]
    r_u = scaled_distances(dist.d_u, y_u, dist.scales)[(dist.scales[y_u] > 0) & (dist.d_u > 0)]
    r_f, r_u = r_f[np.isfinite(r_f)], r_u[np.isfinite(r_u)]
    if len(r_f) < 10 or len(r_u) < 10:
        return None
    ratio = float(np.median(r_f) / np.median(r_u))  # ≈ median(r_f): r_u's is 1 but for the copies left out
    p = float(mannwhitneyu(r_f, r_u, alternative="two-sided").pvalue)
    far = ratio < o.shift_ratio or ratio > 1.0 / o.shift_ratio
    return Shift(ratio, p, bool(far and p < o.shift_alpha))


def capped_quantiles(
    cap: np.ndarray, b: np.ndarray, wb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The target distribution T with quantile function Q_T(u) = min(Q_cap(u), Q_b(u)) — ``b`` (weights ``wb``)
    capped quantile by quantile at the uniform empirical distribution of ``cap`` — as steps over u ∈ (0, 1]
    for :func:`quantile_w1` against a distribution of ``len(cap)`` points: (lengths of the u-intervals, the
    index of the ``len(cap)``-point quantile in each, Q_T on each). Where every cap quantile is at least
    b's, T is b."""
    cap, b = np.sort(np.asarray(cap, float)), np.asarray(b, float)
    n = len(cap)
    wb = np.full(len(b), 1.0 / len(b)) if wb is None else np.asarray(wb, float) / np.sum(wb)
    order = np.argsort(b, kind="stable")
    b, cum = b[order], np.cumsum(wb[order])
    cum[-1] = 1.0
    edges = np.unique(np.concatenate([[0.0], np.arange(1, n + 1) / n, cum]))
    mid = 0.5 * (edges[:-1] + edges[1:])
    k = np.minimum((mid * n).astype(np.int64), n - 1)  # the n-point quantile function's step at mid
    qb = b[np.minimum(np.searchsorted(cum, mid, side="left"), len(b) - 1)]
    return np.diff(edges), k, np.minimum(cap[k], qb)


def quantile_w1(a: np.ndarray, grid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """Wasserstein-1 distance ∫₀¹ |Q_a(u) − Q_T(u)| du between the uniform empirical distribution of ``a``
    and the target :func:`capped_quantiles` built for ``len(a)`` points."""
    lengths, k, qt = grid
    return float(np.sum(lengths * np.abs(np.sort(np.asarray(a, float))[k] - qt)))


def threshold_attack(member: np.ndarray, nonmember: np.ndarray) -> float:
    """τ maximising the balanced accuracy of "member ⇔ score ≥ τ" (ties: the smallest τ), on every sample."""
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    cands = np.unique(np.concatenate([member, nonmember, [np.inf]]))
    ms, ns = np.sort(member), np.sort(nonmember)
    tpr = 1.0 - np.searchsorted(ms, cands, side="left") / len(ms)  # P(member ≥ τ)
    tnr = np.searchsorted(ns, cands, side="left") / len(ns)  # P(non-member < τ)
    return float(cands[int(np.argmax(tpr + tnr))])


SVC_GRID = 257  # confidences in [0, 1] at which the SVC's decision function is scanned for its first member


def svc_decision(clf, x: np.ndarray) -> np.ndarray:
    """A fitted one-feature RBF :class:`~sklearn.svm.SVC`'s ``decision_function`` at the points ``x``
    (Σ_i α_i·exp(−γ(x − s_i)²) + b, vectorised: sklearn's costs ~40 µs a point here)."""
    gamma = 1.0 / clf.n_features_in_ if clf.gamma == "auto" else float(clf.gamma)  # fit_attack's is "auto"
    s = clf.support_vectors_[:, 0]
    k = np.exp(-gamma * (np.asarray(x, float)[:, None] - s[None, :]) ** 2)
    return k @ clf.dual_coef_[0] + clf.intercept_[0]


def svc_threshold(member: np.ndarray, nonmember: np.ndarray, seed: int = 0, max_samples: int | None = None) -> float:
    """τ of "member ⇔ confidence ≥ τ" read off Avg.Gap's own attack: SalUn's RBF-SVC
    (:func:`~unlearnkit.eval.mia.fit_attack`, balanced subsamples with ``seed``, at most ``max_samples`` a
    side) fitted on these one-feature confidences; τ is the lowest confidence in [0, 1] it calls a
    member, where its decision function first turns positive (scanned on a 257-point grid, then found
    to 1e-12 by Brent's method: with gamma = 1 the RBF terms vary on a scale of 1, so the function cannot
    turn between grid points). 0 where it calls a confidence of 0 a member; just above 1 where it calls
    all of [0, 1] non-member.

    Where members and non-members are told apart by confidence (a model that fits its training data)
    the SVC's non-member region is the one interval [0, τ) and this is exactly its rule. Where they are
    not (a model that generalises as well as it fits: the two distributions overlap), the SVC is near
    chance and its regions arbitrary — its decision at confidence 0.95 flipped sign between fits on
    100, 300 and 1000 samples of a Fashion-MNIST MLP — and the monotone reading keeps the low-confidence
    end, the only part with a meaning."""
    clf = fit_attack(np.asarray(member, float)[:, None], np.asarray(nonmember, float)[:, None], seed, max_samples)
    xs = np.linspace(0.0, 1.0, SVC_GRID)
    dec = svc_decision(clf, xs)  # > 0: member (sklearn's predict: classes_[dec > 0])
    inside = np.flatnonzero(dec > 0)
    if len(inside) == 0:
        return float(np.nextafter(1.0, 2.0))
    k = int(inside[0])
    if k == 0:
        return 0.0
    f = lambda c: float(svc_decision(clf, np.array([c]))[0])  # noqa: E731
    # a zero at a grid point itself: a 1-row product can differ from the grid's in the last bit
    if f(xs[k - 1]) >= 0:
        return float(xs[k - 1])
    if f(xs[k]) <= 0:
        return float(xs[k])
    return float(brentq(f, xs[k - 1], xs[k], xtol=1e-12))


# proxy.attack → τ from (member, nonmember, seed, max_samples); the balanced optimum reads every sample
ATTACKS = {
    "svc": svc_threshold,
    "balanced": lambda member, nonmember, seed, max_samples: threshold_attack(member, nonmember),
}


def gone_attack(
    member: np.ndarray, nonmember: np.ndarray, train_labels: np.ndarray, gone: np.ndarray, o: ProxyOptions
) -> float:
    """τ for D_f's gone part where θ_o's own attack calls every confidence a member (τ = 0: θ_o does not tell its
    training data from held-out data, e.g. a model trained briefly). Avg.Gap's attack on a retrained model is
    fitted on a test set that holds the gone classes too, at confidence ≈ 0 (θ_r never predicts a class it never
    saw), and calls that region non-member: so here the held-out non-members get the gone classes' share of the
    training data added at confidence 0. With τ = 0 the gone part's MIA term read |0 − 100| = 100 for every
    model — a constant 25 points of proxy gap (a weak Fashion-MNIST CNN, class 3: proxy gap 25.5 after rl
    removed the class) — and MIA could not tell a removal from none."""
    n_gone = int(np.isin(train_labels, gone).sum())
    extra = max(1, round(len(nonmember) * n_gone / max(len(train_labels) - n_gone, 1)))
    return ATTACKS[o.attack](member, np.concatenate([nonmember, np.zeros(extra)]), o.seed, o.attack_samples)


def kept_fraction(train_labels: np.ndarray, retain_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """r_c = n_r(c) / n(c): the fraction of class c's training samples that D_r keeps (0 for a gone class,
    1 for a class with no training sample)."""
    n = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=num_classes)
    return kept_of(np.bincount(np.asarray(retain_labels, dtype=np.int64), minlength=num_classes), n)


def kept_of(n_r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per class, ``n_r / n`` — the fraction of a class's ``n`` samples that ``n_r`` keeps — and 1 where ``n`` is 0."""
    n_r, n = np.asarray(n_r, float), np.asarray(n, float)
    return np.divide(n_r, n, out=np.ones(len(n)), where=n > 0)


def smoothing_eps(p: torch.Tensor, y: torch.Tensor, z: float) -> float:
    """How far θ_o's probabilities ``p`` on held-out samples (labels ``y``) are compressed toward uniform, as the
    ε of label smoothing's optimum p = (1−ε)·p_cal + ε/K (Müller, Kornblith & Hinton 2019, "When does label
    smoothing help?"): calibration (Guo et al. 2017) asks the mean top probability of p_cal to equal the accuracy,
    and max p = (1−ε)·max p_cal + ε/K, so ε = (acc − m̄) / (acc − 1/K) with m̄ the mean top probability of p;
    acc − m̄ is taken less ``z`` standard errors of the per-sample difference (1[right] − max p), and ε is 0 where
    that is not positive (a calibrated or over-confident model: the prior correction then reads p as it is)."""
    k, n = p.shape[1], len(y)
    if n < 2 or k < 2:
        return 0.0
    right = (p.argmax(1) == y).double()
    d = right - p.max(1).values.double()
    acc = float(right.mean())
    lower = float(d.mean()) - z * float(d.std()) / math.sqrt(n)
    if lower <= 0 or acc - 1.0 / k <= 0:
        return 0.0
    return min(lower / (acc - 1.0 / k), 1.0 - 1e-6)


def prior_correct(p: torch.Tensor, ratio: np.ndarray, eps: float = 0.0) -> torch.Tensor:
    """Label-shift correction of θ_o's probabilities for a model trained on D_r: q(c|x) ∝ p(c|x)·r_c,
    renormalised (Saerens, Latinne & Decaestecker 2002, "Adjusting the outputs of a classifier to new a
    priori probabilities"; r_c = π_r(c)/π_o(c) up to a constant). Uniform over the classes with r_c > 0
    where a row has all its mass on classes with r_c = 0. ``eps`` > 0 (:func:`smoothing_eps`): p is read as
    (1−ε)·p_cal + ε/K; p_cal (clipped at 0) is corrected and mapped back the same way."""
    if eps > 0:
        k = p.shape[1]
        return (1.0 - eps) * prior_correct(((p - eps / k) / (1.0 - eps)).clamp_min(0.0), ratio) + eps / k
    r = torch.as_tensor(np.asarray(ratio, dtype=np.float64), dtype=p.dtype)
    q = p * r
    s = q.sum(1, keepdim=True)
    support = (r > 0).to(p.dtype)
    uniform = support / support.sum()
    return torch.where(s > 0, q / s.clamp_min(1e-300), uniform.expand_as(q))


def drop_renormalise(p: torch.Tensor, gone: np.ndarray) -> torch.Tensor:
    """θ_o's probabilities with the ``gone`` classes set to 0 and the rows renormalised (uniform over
    the kept classes where a row had all its mass on gone classes): :func:`prior_correct` with r = 0 on
    the gone classes and 1 elsewhere."""
    ratio = np.ones(p.shape[1])
    ratio[np.asarray(gone, dtype=np.int64)] = 0.0
    return prior_correct(p, ratio)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row ½‖p − q‖₁."""
    return 0.5 * (p - q).abs().sum(1)


def paired_damage(ref_right: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Accuracy points lost against a reference on the same samples, max(0, 100·mean(d)), and the standard
    error of 100·mean(d), d_i = ref_right_i − right_i (paired: only samples on which the two disagree
    add variance)."""
    d = np.asarray(ref_right, float) - np.asarray(right, float)
    if len(d) == 0:
        return 0.0, 0.0
    se = 100.0 * float(d.std(ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return max(0.0, 100.0 * float(d.mean())), se


def removed_since(first, retain_labels: np.ndarray, num_classes: int, thin: float | None) -> np.ndarray:
    """Per class, whether the requests so far removed it — today's D_r keeps less than ``thin`` (``proxy.thin_below``)
    of the first training set's samples of it (``first.train_counts``), or none at all where that is unknown or
    ``thin`` is None: its samples are read by θ_o's answers, not the first model's (losing it was asked for)."""
    kept = first.kept(retain_labels, num_classes)
    if kept is None:
        return np.bincount(np.asarray(retain_labels, np.int64), minlength=num_classes) == 0
    return kept < thin if thin is not None else kept == 0


def against_first(
    first, idx: np.ndarray, p: torch.Tensor, y: torch.Tensor, chosen: np.ndarray, removed: np.ndarray | None = None
) -> np.ndarray:
    """The per-sample reference of a chain of requests: on the samples ``first`` (a Baseline) covers, right where the
    first model classified them right — less those θ_o got right that the class-prior correction excuses (``chosen``,
    θ_o's own reference, has them wrong) — or where ``chosen`` credits a sample θ_o got wrong; ``chosen`` elsewhere,
    and on the classes ``removed`` (:func:`removed_since`, per class). With ``first`` measured on θ_o itself this is
    ``chosen`` exactly."""
    raw = (p.argmax(1) == y).numpy()
    right, covered = first.right(idx)
    if removed is not None:
        covered &= ~removed[y.numpy()]
    excused = raw & ~chosen
    return np.where(covered, (right & ~excused) | (chosen & ~raw), chosen)


def _subsample(idx: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.int64)
    return idx if len(idx) <= k else np.sort(rng.choice(idx, size=k, replace=False))


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits.double(), dim=1)


def _true_conf(p: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return p.gather(1, y.view(-1, 1))[:, 0].numpy()


def member_targets(
    q_r: torch.Tensor,
    y_r: torch.Tensor,
    twin_labels: np.ndarray,
    right_o: np.ndarray,
    conf_o: np.ndarray,
    ref: "ProxyReference",
    cap: bool,
) -> tuple[float, float, tuple]:
    """``twin_check``'s targets for D_f's twins: what θ_o does on the D_r sample (its q-read probabilities ``q_r``,
    labels ``y_r``) weighted to the twins' class mix — a retrained model fits a sample whose copy it trains on as
    it fits its training samples — capped at θ_o's own values on the twins (``right_o``, ``conf_o``; ``cap``:
    ``cap_at_original``), which it may fit better than a typical D_r sample (it saw them twice). (FA, MIA-efficacy,
    :func:`capped_quantiles` of the confidences for ``len(conf_o)`` points.)"""
    labels = y_r.numpy()
    w = target_weights(labels, twin_labels, ref.dataset.num_classes, ref.prior)
    conf_r = _true_conf(q_r, y_r)
    fa = 100.0 * float(np.sum(w * (q_r.argmax(1) == y_r).numpy()))
    mia = 100.0 * float(np.sum(w * (conf_r < ref.tau)))
    if not cap:
        return fa, mia, capped_quantiles(np.ones(len(conf_o)), conf_r, w)
    fa, mia = min(fa, 100.0 * float(np.mean(right_o))), max(mia, 100.0 * float(np.mean(conf_o < ref.tau)))
    return fa, mia, capped_quantiles(conf_o, conf_r, w)


# the reference, computed once from θ_o ---------------------------------------------------------------
@dataclass
class ProxyReference:
    """Everything the proxy needs from θ_o and the split, fixed once; :meth:`evaluate` scores a model."""

    dataset: object
    device: torch.device
    options: ProxyOptions
    forget: np.ndarray  # fixed D_f sample
    retain: np.ndarray  # fixed D_r sample, in a seeded random order (a head of it is a random subsample)
    unseen: np.ndarray  # held-out samples of the kept classes
    gone: np.ndarray  # forgotten classes
    is_gone: np.ndarray  # bool over ``forget``
    tau: float
    target_fa: float
    target_mia: float
    ref_conf: np.ndarray  # θ_o's true-class confidence on ``unseen``
    ref_w: np.ndarray  # target weights over ``unseen``
    q_gone: torch.Tensor  # θ_o's prior-corrected probabilities on the gone samples
    retain_right_ref: np.ndarray = None  # per-sample correctness of the damage baseline on ``retain``
    unseen_right_ref: np.ndarray = None  # … and on ``unseen``
    y_forget: torch.Tensor = None
    y_retain: torch.Tensor = None
    y_unseen: torch.Tensor = None
    values_o: dict = None  # the proxy's columns for θ_o itself (from the pass that built the reference)
    fa_o: tuple = (None, None)  # θ_o's :meth:`forget_accuracy` (D_f's partial part, its gone part; %)
    prior: float = float("nan")  # the pseudo-sample count the target weights used (options.prior, or estimated)
    retain_logit_norms_o: np.ndarray = None  # θ_o's per-sample ‖logits‖₂ on ``retain`` (in its order)
    held_out_fa: float = float("nan")  # θ_o's (target-weighted) accuracy on the held-out samples
    held_out_mia: float = float("nan")  # … and MIA-efficacy there (the targets before the cap at θ_o)
    dist_grid: tuple = ()  # capped_quantiles of the confidence target for D_f's partial part
    agree_forget: float = float("nan")  # label_check: mean neighbour-label agreement on D_f's partial part
    agree_held_out: float = float("nan")  # … on the held-out samples (target-weighted)
    label_share: float | None = None  # the share of D_f labelled like held-out data, where label_check fired
    twins: Twins | None = None  # twin_check's finding, where it fired
    shift: Shift | None = None  # shift_check's reading, where it could be made
    thin: Thin | None = None  # thin_below's reading, where D_f has a nearly removed class
    retain_unperm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # the D_r sample's build order
    attack_acc: float = float("nan")  # θ_o's attack's balanced accuracy, D_r sample vs held-out (attack_refit)
    tau_gone: float = float("nan")  # the attack's τ for D_f's gone part (τ, or the refit where τ = 0)
    forget_fa: float = float("nan")  # θ_o's accuracy on D_f's partial part, read as the targets are (q)
    inputs: torch.Tensor | None = None  # model-ready inputs of forget, retain, unseen in that order (input_cache_mb)
    smoothing: float = 0.0  # smoothing_z: the ε θ_o's probabilities were read with before the prior correction
    first_covered: int | None = None  # with a baseline: the D_r-sample and held-out samples it covers (else None)

    @classmethod
    def build(
        cls,
        original,
        dataset,
        split,
        options: ProxyOptions | None = None,
        device: torch.device | None = None,
        baseline=None,
    ) -> "ProxyReference":
        """The reference from θ_o. ``baseline`` (a :class:`~unlearnkit.baseline.Baseline`, for a chain of requests):
        damage is counted against the first model's answers on the samples it covers (:func:`against_first`)."""
        o = options or ProxyOptions()
        device = device or next(original.parameters()).device
        labels = np.asarray(dataset.labels)
        if len(split.unseen) == 0:
            raise UnlearnkitError(
                "the proxy needs held-out data (split.unseen is empty); make the split with "
                "unseen_fraction > 0 (e.g. 0.1)"
            )
        rng = np.random.default_rng(o.seed)
        forget = _subsample(split.forget, o.max_forget, rng)
        retain = _subsample(split.retain, o.max_retain, rng)
        gone = gone_classes(labels[split.forget], labels[split.retain])
        unseen = np.asarray(split.unseen, dtype=np.int64)
        unseen = _subsample(unseen[~np.isin(labels[unseen], gone)], o.max_unseen, rng)
        is_gone = np.isin(labels[forget], gone)
        partial = forget[~is_gone]
        if len(partial) and len(unseen) == 0:
            raise UnlearnkitError(
                "the proxy needs held-out samples of the classes D_f only partly covers; raise unseen_fraction"
            )
        ref = cls(
            dataset,
            device,
            o,
            forget,
            retain,
            unseen,
            gone,
            is_gone,
            0.0,
            0.0,
            0.0,
            np.zeros(0),
            np.zeros(0),
            torch.zeros(0),
        )
        ref.y_forget, ref.y_retain, ref.y_unseen = (torch.as_tensor(labels[i]) for i in (forget, retain, unseen))
        every = np.concatenate([forget, retain, unseen])
        if o.input_cache_mb and len(every) * math.prod(dataset.input_shape) * 4 <= o.input_cache_mb * 2**20:
            ref.inputs = dataset.to(device).inputs(torch.as_tensor(every).to(device))
        lg = ref.forward(original)
        p_r, p_u, p_f = _probs(lg["retain"]), _probs(lg["unseen"]), _probs(lg["forget"])
        if o.prior_shift:
            ratio = kept_fraction(labels[split.train], labels[split.retain], dataset.num_classes)
        else:
            ratio = np.ones(dataset.num_classes)
        y_r, y_u = ref.y_retain, ref.y_unseen
        if o.prior_shift and o.smoothing_z is not None and (ratio != 1).any():
            ref.smoothing = smoothing_eps(p_u, y_u, o.smoothing_z)
        eps = ref.smoothing
        q_r, q_u = prior_correct(p_r, ratio, eps), prior_correct(p_u, ratio, eps)

        def reference_right(p: torch.Tensor, q: torch.Tensor, y: torch.Tensor) -> np.ndarray:
            """Per-sample correctness of θ_o, or of the prior-corrected θ_o where the shift lowers its
            accuracy (a model retrained on fewer samples of a class is expected to lose some of it)."""
            raw, corrected = (p.argmax(1) == y).numpy(), (q.argmax(1) == y).numpy()
            if len(y) == 0:
                return raw
            return raw if raw.mean() <= corrected.mean() else corrected

        ref.retain_right_ref = reference_right(p_r, q_r, y_r)
        ref.unseen_right_ref = reference_right(p_u, q_u, y_u)
        if baseline is not None:  # a chain of requests: damage against the model before the first
            removed = removed_since(baseline, labels[split.retain], dataset.num_classes, o.thin_below)
            ref.retain_right_ref = against_first(baseline, retain, p_r, y_r, ref.retain_right_ref, removed)
            ref.unseen_right_ref = against_first(baseline, unseen, p_u, y_u, ref.unseen_right_ref, removed)
            both = np.concatenate([retain, unseen])
            ref.first_covered = int((baseline.right(both)[1] & ~removed[labels[both]]).sum())
        if len(unseen):
            ref.ref_conf = _true_conf(q_u, y_u)
            correct_u = (q_u.argmax(1) == y_u).numpy()
            # the attack is θ_o's own (uncorrected) members vs non-members
            conf_r_o, conf_u_o = _true_conf(p_r, y_r), _true_conf(p_u, y_u)
            ref.tau = ATTACKS[o.attack](conf_r_o, conf_u_o, o.seed, o.attack_samples)
            ref.attack_acc = 0.5 * float(np.mean(conf_r_o >= ref.tau) + np.mean(conf_u_o < ref.tau))
            ref.tau_gone = ref.tau
            if ref.tau <= 0.0 and is_gone.any():  # θ_o's attack calls nothing non-member: refit for the gone part
                ref.tau_gone = gone_attack(conf_r_o, conf_u_o, labels[split.train], gone, o)
            # the strata D_f's mix is matched on: its classes, and within them its groups where the data set has a
            # group attribute (match_group): held-out samples like D_f
            strata, n_strata = target_strata(dataset, o)
            ref.prior = empirical_prior(strata[unseen], correct_u) if o.prior == "auto" else float(o.prior)
            dist = (
                nearest_distances(dataset, split.retain, partial, unseen, o) if o.twin_check or o.shift_check else None
            )
            twins = find_twins(dataset, split.retain, partial, unseen, o, dist) if o.twin_check and dist else None
            near = twins.forget if twins is not None else np.zeros(len(partial), bool)
            ref.shift = distance_shift(dataset, partial, unseen, dist, o, near) if o.shift_check else None
            # the held-out targets are for D_f's samples without a twin (all of them where every one has a twin:
            # those targets then get no weight), read off held-out samples without one
            rest = ~near if (~near).any() else np.ones(len(partial), bool)
            far = partial[rest]
            keep_u = ~twins.unseen if twins is not None and (~twins.unseen).any() else np.ones(len(unseen), bool)
            ref.twins = twins
            ref.ref_w = np.zeros(len(unseen))
            ref.ref_w[keep_u] = target_weights(strata[unseen[keep_u]], strata[far], n_strata, ref.prior)
            ref.held_out_fa = ref.target_fa = 100.0 * float(np.sum(ref.ref_w * correct_u))
            ref.held_out_mia = ref.target_mia = 100.0 * float(np.sum(ref.ref_w * (ref.ref_conf < ref.tau)))
            cap = np.ones(len(far))  # no cap: confidences are at most 1
            conf_u, w_u = ref.ref_conf, ref.ref_w
            if len(partial):
                sel = torch.as_tensor(~is_gone)
                if o.label_check and not near.all():  # D_f labelled unlike its neighbours: θ_r predicts theirs
                    x_q = None
                    if ref.inputs is not None:  # D_r sample, D_f's partial part, held-out: the cached inputs
                        x_f, x_r, x_u = ref.cached_parts()
                        x_q = torch.cat([x_r, x_f[sel.to(x_f.device)][torch.as_tensor(rest).to(x_f.device)], x_u])
                    ref.label_share, ref.agree_forget, ref.agree_held_out = check_labels(
                        original, dataset, retain, far, unseen, o, device, x_q
                    )
                ref.thin = thin_share(dataset, split, far, unseen, o) if not near.all() else None
                shares = [ref.label_share, ref.thin.share if ref.thin is not None else None]
                for a in (a for a in shares if a is not None and a < 1):  # the rest: misclassified by θ_r, conf ~0
                    ref.target_fa *= a
                    ref.target_mia = 100.0 - (100.0 - ref.target_mia) * a
                    conf_u, w_u = np.concatenate([[0.0], conf_u]), np.concatenate([[1.0 - a], a * w_u])
                y_p = ref.y_forget[sel]
                q_p = prior_correct(p_f[sel], ratio, eps)  # θ_o on D_f, read as the targets are
                right_p, conf_p = (q_p.argmax(1) == y_p).numpy(), _true_conf(q_p, y_p)
                ref.forget_fa = 100.0 * float(right_p.mean())
                if o.cap_at_original:
                    cap = conf_p[rest]
                    ref.target_fa = min(ref.target_fa, 100.0 * float(right_p[rest].mean()))
                    ref.target_mia = max(ref.target_mia, 100.0 * float(np.mean(cap < ref.tau)))
                ref.dist_grid = capped_quantiles(cap, conf_u, w_u)
                if near.any():  # twins: a retrained model fits them as it fits D_r (through their twin)
                    share = float(near.mean())
                    t_fa, t_mia, t_grid = member_targets(
                        q_r, y_r, labels[partial[near]], right_p[near], conf_p[near], ref, o.cap_at_original
                    )
                    ref.target_fa = share * t_fa + (1.0 - share) * ref.target_fa
                    ref.target_mia = share * t_mia + (1.0 - share) * ref.target_mia
                    lengths, _, q_far = ref.dist_grid  # T for the rest as atoms, mixed with the twins' T
                    atoms = np.concatenate([q_far, t_grid[2]])
                    mass = np.concatenate([(1.0 - share) * lengths, share * t_grid[0]])
                    ref.dist_grid = capped_quantiles(np.ones(len(partial)), atoms, mass)
        else:  # class forgetting only, no held-out data of the kept classes: the attack uses D_r alone
            ref.tau = ref.tau_gone = float("inf")
        p_gone = p_f[torch.as_tensor(is_gone)]
        ref.q_gone = prior_correct(p_gone, ratio, eps) if o.prior_shift else drop_renormalise(p_gone, gone)
        ref.values_o = ref.evaluate_logits(lg)  # θ_o's score, so its starting point costs no second pass
        ref.fa_o = ref.forget_accuracy(lg["forget"])
        # the D_r sample in a seeded random order, so that any head of it is a random subsample (screening
        # evaluations score a head): index order can be class order (a data set stored class by class)
        perm = rng.permutation(len(retain))
        ref.retain, ref.y_retain, ref.retain_right_ref = retain[perm], ref.y_retain[perm], ref.retain_right_ref[perm]
        ref.retain_unperm = np.argsort(perm)  # back to the order θ_o's attack was fitted in (attack_threshold)
        if ref.inputs is not None:
            x_r = ref.cached_parts()[1]
            x_r[:] = x_r[torch.as_tensor(perm).to(x_r.device)]
        ref.retain_logit_norms_o = lg["retain"].double().norm(dim=1)[perm].numpy()
        return ref

    def retain_logit_norm(self, k: int | None = None) -> float:
        """θ_o's mean ‖logits‖₂ on the first ``k`` samples of the D_r sample (all of it: None), the divergence
        guard's reference for a state scored on the same samples."""
        norms = self.retain_logit_norms_o[:k]
        return float(norms.mean()) if len(norms) else 0.0

    def forward(self, model, retain: slice = slice(None)) -> dict[str, torch.Tensor]:
        """Logits of ``model`` on the fixed forget / retain / unseen samples (one batched pass); ``retain`` selects
        a part of the D_r sample (its head is a seeded random subsample too)."""
        parts = {"forget": self.forget, "retain": self.retain[retain], "unseen": self.unseen}
        if self.inputs is None:
            logits = predict_logits(model, self.dataset, np.concatenate(list(parts.values())), device=self.device)
        else:  # the same batches of the same inputs: the same logits bit for bit
            x_f, x_r, x_u = self.cached_parts()
            logits = predict_inputs(model, self.inputs if retain == slice(None) else torch.cat([x_f, x_r[retain], x_u]))
        out, start = {}, 0
        for name, idx in parts.items():
            out[name] = logits[start : start + len(idx)]
            start += len(idx)
        return out

    def cached_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Views of the cached inputs (``input_cache_mb``) of the forget, retain and unseen samples."""
        assert self.inputs is not None
        nf, nr = len(self.forget), len(self.retain)
        return self.inputs[:nf], self.inputs[nf : nf + nr], self.inputs[nf + nr :]

    def retain_logits(self, model, part: slice) -> torch.Tensor:
        """Logits of ``model`` on a part of the fixed D_r sample."""
        if self.inputs is None:
            return predict_logits(model, self.dataset, self.retain[part], device=self.device)
        return predict_inputs(model, self.cached_parts()[1][part])

    def evaluate(self, model) -> dict[str, float]:
        return self.evaluate_logits(self.forward(model))

    def forget_logits(self, model) -> torch.Tensor:
        """Logits of ``model`` on the fixed D_f sample alone (its cached inputs where :meth:`forward` has them)."""
        if self.inputs is None:
            return predict_logits(model, self.dataset, self.forget, device=self.device)
        return predict_inputs(model, self.cached_parts()[0])

    def forget_accuracy(self, logits: torch.Tensor) -> tuple[float | None, float | None]:
        """A model's accuracy (%, argmax of its ``logits`` on the D_f sample, as :meth:`evaluate_logits` reads it)
        on D_f's partial part and on its gone part (the samples of classes D_r no longer has); None where the part
        is empty. What :func:`~unlearnkit.stopping.short_of_target` compares with the targets."""
        right = (logits.argmax(1).cpu() == self.y_forget).numpy()
        g = self.is_gone
        return tuple(100.0 * float(right[m].mean()) if m.any() else None for m in (~g, g))  # type: ignore[return-value]

    @property
    def refit(self) -> bool:
        """Whether the attack is re-fitted on every model scored: θ_o's attack's balanced accuracy reaches
        ``attack_refit`` (never where there is no held-out sample: its accuracy is then unread)."""
        return self.options.attack_refit is not None and self.attack_acc >= self.options.attack_refit

    def attack_threshold(self, lg: dict[str, torch.Tensor]) -> float:
        """τ for D_f's partial part: θ_o's (``self.tau``), or with ``attack_refit`` the same attack fitted on the
        scored model's own confidences on the D_r sample (or the head of it a screening evaluation read) and the
        held-out samples — θ_o's τ again for θ_o on the whole sample."""
        o = self.options
        if not self.refit or not (~self.is_gone).any():
            return self.tau
        k = len(lg["retain"])
        member = _true_conf(_probs(lg["retain"]), self.y_retain[:k])
        if k == len(self.retain_unperm):  # the whole sample, in θ_o's fit's order: its subsample is θ_o's
            member = member[self.retain_unperm]
        return ATTACKS[o.attack](member, _true_conf(_probs(lg["unseen"]), self.y_unseen), o.seed, o.attack_samples)

    def evaluate_logits(self, lg: dict[str, torch.Tensor]) -> dict[str, float]:
        """The proxy's columns from the logits :meth:`forward` returned."""
        o, y_f = self.options, self.y_forget
        p_f = _probs(lg["forget"])
        conf_f = _true_conf(p_f, y_f)
        correct_f = (p_f.argmax(1) == y_f).numpy()
        g, n = self.is_gone, len(self.forget)
        called_out = np.where(g, conf_f < self.tau_gone, conf_f < self.attack_threshold(lg))  # non-member
        parts = []  # (size, fa, mia, dist)
        mass = 0.0
        if (~g).any():
            parts.append(
                (
                    int((~g).sum()),
                    abs(100.0 * correct_f[~g].mean() - self.target_fa),
                    abs(100.0 * called_out[~g].mean() - self.target_mia),
                    100.0 * quantile_w1(conf_f[~g], self.dist_grid),
                )
            )
        if g.any():
            # where G's mass goes in aggregate: per sample, θ_o's renormalised residual probabilities are
            # a poor guess of θ_r's (θ_r itself scored ~28 per sample on digits class 3), the mean is not
            tv = total_variation(p_f[torch.as_tensor(g)].mean(0, keepdim=True), self.q_gone.mean(0, keepdim=True))
            mass = 100.0 * float(tv.mean())
            parts.append(
                (
                    int(g.sum()),
                    100.0 * correct_f[g].mean(),
                    abs(100.0 * called_out[g].mean() - 100.0),
                    o.mass_weight * mass,
                )
            )
        fa, mia, dist = (sum(p[0] * p[k] for p in parts) / n for k in (1, 2, 3))
        k = len(lg["retain"])  # the whole D_r sample, or its head (a screening evaluation)
        d_r, se_r = paired_damage(self.retain_right_ref[:k], (lg["retain"].argmax(1) == self.y_retain[:k]).numpy())
        d_u, _ = paired_damage(self.unseen_right_ref, (lg["unseen"].argmax(1) == self.y_unseen).numpy())
        damage = d_r + d_u
        w = o.weights
        total = sum(w)
        gap = (w[0] * fa + w[1] * mia + w[2] * dist + w[3] * damage) / total if total > 0 else float("nan")
        return {
            "proxy_gap": float(gap),
            "proxy_fa": float(fa),
            "proxy_mia": float(mia),
            "proxy_dist": float(dist),
            "proxy_mass": float(mass),
            "proxy_damage": float(damage),
            "proxy_ra_loss": float(d_r),
            "proxy_ra_loss_se": float(se_r),
        }


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
