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

Layout, one concept a module: ``options`` (:class:`ProxyOptions`), ``reference`` (:class:`ProxyReference`: the
targets built once from θ_o, and the scoring of a model), ``metric`` (the registered ``proxy`` metric and its
columns); what the reference reads: ``strata`` (held-out samples weighted to D_f's mix), ``prior`` (the class-prior
shift), ``attack`` (the membership threshold), ``terms`` (the distribution distance, mass and damage terms),
``labels`` (``label_check``), ``twins`` (``twin_check`` and the nearest same-label search), ``shift``
(``shift_check``), ``thin`` (``thin_below``'s probe) and ``chain`` (damage against the first model of a chain).
"""

from .metric import PROXY_COLUMNS, Proxy
from .options import ProxyOptions
from .reference import ProxyReference

__all__ = ["PROXY_COLUMNS", "Proxy", "ProxyOptions", "ProxyReference"]
