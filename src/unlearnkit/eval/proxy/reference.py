"""The proxy's reference, computed once from θ_o (:meth:`ProxyReference.build`), and the scoring of a model
against it (:meth:`ProxyReference.evaluate`)."""

from __future__ import annotations

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import UnlearnkitError
from ...predict import predict_inputs, predict_logits


from .attack import ATTACKS, gone_attack
from .chain import against_first, removed_since
from .labels import check_labels
from .options import ProxyOptions
from .prior import drop_renormalise, kept_fraction, prior_correct, smoothing_eps
from .shift import Shift, distance_shift
from .strata import empirical_prior, gone_classes, target_strata, target_weights
from .terms import capped_quantiles, paired_damage, quantile_w1, total_variation
from .thin import Thin, thin_share
from .twins import Twins, find_twins, nearest_distances


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
