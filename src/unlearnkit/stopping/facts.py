"""What the auto summary says about a kept state and the targets it was judged by, and whether the kept state
stopped short of removing D_f (:func:`short_of_target`)."""

from __future__ import annotations

import math

import numpy as np

from ..eval.proxy import ProxyReference


def reference_facts(ref: ProxyReference) -> dict:
    """What the proxy's targets for D_f rest on, for the auto summary and its warnings: the number of
    held-out samples of D_f's classes, θ_o's (target-weighted) accuracy and MIA-efficacy on them
    (``held_out_fa``, ``held_out_mia``; None without held-out data; ``held_out_eff``, the effective number of
    held-out samples behind them, 1/Σw² of the target weights), θ_o's own accuracy on D_f's partial part read the
    same way (``forget_fa``, over ``forget_partial`` samples of the D_f sample) and the targets (``target_fa``,
    ``target_mia``: those, capped at θ_o's own values on D_f, ``proxy.cap_at_original``, and scaled by
    ``label_share`` where D_f's labels agree with their D_r neighbours' (``agree_forget``) markedly less than
    held-out data's (``agree_held_out``), ``proxy.label_check``); ``partial`` is False when every forgotten class is gone (the targets are then FA 0 and MIA 100);
    ``thin_share`` is the share of D_f's partial part ``proxy.thin_below``'s probe expects a retrained model to get
    right where D_f has a class D_r keeps little of (None elsewhere), ``thin_classes`` per such class its kept
    fraction and the probe's accuracies (on D_f, fitted on D_r; on held-out samples, fitted on the training set);
    ``prior`` is the pseudo-sample count the target weights used (None where infinite, i.e. pooled over
    classes, or where no held-out data was used); ``smoothing`` the ε θ_o's probabilities were read with before
    the prior correction (``proxy.smoothing_z``; 0: as they are); ``original_proxy_gap`` is θ_o's own proxy gap (what
    a kept state is measured against); ``forget_gone`` the D_f sample's samples of removed classes, ``original_fa`` /
    ``original_fa_gone`` θ_o's accuracy on the sample's partial / gone part (%, None where empty; the kept state's is
    ``kept_fa`` / ``kept_fa_gone``, :func:`kept_facts`); ``shift_ratio`` / ``shift_p`` ``proxy.shift_check``'s
    reading (:func:`~unlearnkit.eval.proxy.shift.distance_shift`; None where it could not be made) and ``shifted`` its
    verdict, that D_f and the held-out data are not drawn alike (not where the label check fired). With a baseline (a chain of requests, ``unlearn(baseline=…)``):
    ``baseline_covered``, the D_r-sample and held-out samples it covers, and θ_o's accuracy lost since the first model
    on them (``drift_ra``: on the D_r sample, ``drift_unseen``: held out; points); all three None without one."""
    drift = ref.first_covered is not None and bool(ref.values_o)
    return {
        "original_proxy_gap": float(ref.values_o["proxy_gap"]) if ref.values_o else None,
        "baseline_covered": ref.first_covered,
        "drift_ra": float(ref.values_o["proxy_ra_loss"]) if drift else None,
        "drift_unseen": float(ref.values_o["proxy_damage"] - ref.values_o["proxy_ra_loss"]) if drift else None,
        "held_out": int(len(ref.unseen)),
        # the held-out mean's effective size 1/Σw² (the target weights follow D_f's class mix: on a request from
        # one class it rests on that class's held-out samples, not on all of them)
        "held_out_eff": float(1.0 / np.sum(np.square(ref.ref_w))) if len(ref.ref_w) else None,
        "target_fa": float(ref.target_fa),
        "target_mia": float(ref.target_mia),
        "held_out_fa": float(ref.held_out_fa) if math.isfinite(ref.held_out_fa) else None,
        "held_out_mia": float(ref.held_out_mia) if math.isfinite(ref.held_out_mia) else None,
        "forget_fa": float(ref.forget_fa) if math.isfinite(ref.forget_fa) else None,
        "forget_partial": int((~ref.is_gone).sum()),
        "forget_gone": int(ref.is_gone.sum()),
        "shift_ratio": ref.shift.ratio if ref.shift is not None else None,
        "shift_p": ref.shift.p if ref.shift is not None else None,
        # where the label check fired, D_f's mislabelled samples lie far from their label's class by design: its
        # targets already account for them, and the distances say nothing about the held-out data
        "shifted": bool(ref.shift is not None and ref.shift.shifted and ref.label_share is None),
        "original_fa": ref.fa_o[0],
        "original_fa_gone": ref.fa_o[1],
        "partial": bool((~ref.is_gone).any()),
        "agree_forget": float(ref.agree_forget) if math.isfinite(ref.agree_forget) else None,
        "agree_held_out": float(ref.agree_held_out) if math.isfinite(ref.agree_held_out) else None,
        "label_share": ref.label_share,
        **twin_facts(ref),
        "thin_share": ref.thin.share if ref.thin is not None and ref.thin.share < 1 else None,
        "thin_classes": {  # JSON-safe: None where the class has no held-out sample
            str(c): [x if math.isfinite(x) else None for x in v] for c, v in ref.thin.classes.items()
        }
        if ref.thin is not None
        else {},
        "prior": float(ref.prior) if math.isfinite(ref.prior) else None,  # JSON-safe: None = pooled / unused
        "smoothing": float(ref.smoothing),
        # θ_o's attack's balanced accuracy and whether the proxy re-fits it on each model (proxy.attack_refit)
        "attack_acc": float(ref.attack_acc) if math.isfinite(ref.attack_acc) else None,
        "attack_refit": bool(ref.refit),
    }


def twin_facts(ref: ProxyReference) -> dict:
    """``proxy.twin_check``'s finding for the auto summary and its warning: ``twin_share``, the share of D_f's
    partial part (its checked sample, ``proxy.max_forget``) with a near-duplicate of the same label left in D_r
    (None where the check did not fire), ``twins`` their number and ``twin_pairs`` every (D_f index, D_r twin
    index) pair found."""
    t = ref.twins
    if t is None:
        return {"twin_share": None, "twins": 0, "twin_pairs": []}
    partial = ref.forget[~ref.is_gone]
    pairs = [[int(f), int(r)] for f, r in zip(partial[t.forget], t.nearest[t.forget])]
    return {"twin_share": float(t.forget.mean()), "twins": len(pairs), "twin_pairs": pairs}


def kept_facts(fa: tuple[float | None, float | None]) -> dict:
    """The kept state's accuracy on the proxy's D_f sample for the auto summary: ``kept_fa`` on D_f's partial
    part, ``kept_fa_gone`` on its samples of removed classes (%; None where the part is empty) —
    :meth:`~unlearnkit.eval.proxy.ProxyReference.forget_accuracy`."""
    return {"kept_fa": fa[0], "kept_fa_gone": fa[1]}


def short_of_target(auto: dict, z: float | None) -> dict:
    """Where the state auto kept is measurably short of what a model retrained without D_f would do, from its
    summary: ``partial`` = (kept FA, FA target, their standard error) where the kept state classifies D_f's partial
    part more accurately than the target by more than ``z`` standard errors — the target's, p(1 − p)/n over the
    effective number of held-out samples behind it (``held_out_eff``), plus the kept FA's over the D_f sample
    (``forget_partial``), each p clipped to [0.01, 0.99] —, and ``gone`` = (kept FA, its standard error) where it
    still classifies the removed classes' samples as theirs with an FA whose lower bound, ``z`` standard errors
    (binomial, over ``forget_gone`` samples) below it, is above 0 (a retrained model never predicts a class it
    never saw). Empty where neither holds, where the summary lacks what it needs, or for ``z`` None."""
    out: dict = {}
    if z is None:
        return out
    fa, target, n_f, n_e = (
        auto.get("kept_fa"),
        auto.get("target_fa"),
        auto.get("forget_partial"),
        auto.get("held_out_eff"),
    )
    if auto.get("partial") and fa is not None and target is not None and n_f and n_e:
        se = two_sample_se(target / 100.0, n_e, fa / 100.0, n_f)
        if fa - target > z * se:
            out["partial"] = (fa, target, se)
    fa_g, n_g = auto.get("kept_fa_gone"), auto.get("forget_gone")
    if fa_g is not None and n_g:
        p = fa_g / 100.0
        se_g = 100.0 * math.sqrt(p * (1.0 - p) / n_g)
        if fa_g > 0 and fa_g - z * se_g > 0:
            out["gone"] = (fa_g, se_g)
    return out


#: the confidence level of :func:`unresolved_bound`'s one-sided lower bound
RESOLUTION_LEVEL = 0.95


def unresolved_bound(auto: dict) -> float | None:
    """Where the held-out data cannot show D_f's generalisation gap at all, how large a gap it could hide: the
    one-sided ``RESOLUTION_LEVEL`` lower bound (%) of θ_o's accuracy on held-out data of D_f's classes, given that
    it classified every one of them correctly — 100·(1 − level)^(1/n) for n = the effective number of held-out
    samples behind the targets (``held_out_eff``; Clopper–Pearson with no error seen: the "rule of three" for 95 %,
    ≈ 100·(1 − 3/n)). The proxy then expects a retrained model to classify all of D_f correctly and sees no accuracy
    to remove, whatever a retrained model does within that bound (digits, 144 held-out samples: 97.9 %; one split in
    six of the defaults-transfer grid, where retraining had FA 96.5–97.6 % on random and long-tail requests and 89 %
    on half of class 5, whose 14 held-out samples bound it at 81 %). None where a held-out sample of D_f's classes
    was misclassified, where D_f has no partial part, or where the label check, twin check or thin-class probe set
    the targets."""
    fh, n_e = auto.get("held_out_fa"), auto.get("held_out_eff")
    if not auto.get("partial") or fh is None or not n_e or fh < 100.0 - 1e-9:
        return None
    if any(auto.get(k) is not None for k in ("label_share", "twin_share", "thin_share")):
        return None
    return 100.0 * (1.0 - RESOLUTION_LEVEL) ** (1.0 / n_e)


def two_sample_se(p_a: float, n_a: float, p_b: float, n_b: float) -> float:
    """The standard error (percent points) of the difference of two independent proportions ``p_a`` over ``n_a``
    samples and ``p_b`` over ``n_b``, each p clipped to [0.01, 0.99] (a sample right on every one still has a
    rate that is only estimated)."""
    p_a, p_b = min(max(p_a, 0.01), 0.99), min(max(p_b, 0.01), 0.99)
    return 100.0 * math.sqrt(p_a * (1.0 - p_a) / n_a + p_b * (1.0 - p_b) / n_b)
