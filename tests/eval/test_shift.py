"""proxy.shift_check: held-out data not drawn like the training data is named, not silently used as the targets."""

import dataclasses
import types
import warnings

import numpy as np
import pytest

import unlearnkit as uk
from unlearnkit.eval.proxy import ProxyOptions
from unlearnkit.eval.proxy.shift import distance_shift
from unlearnkit.eval.proxy.twins import Distances

from conftest import train_mlp


def read(d_f, d_u, y_f=None, y_u=None, scales=(1.0, 1.0), twins=None):
    """distance_shift on hand-made distances: D_f's samples are dataset indices 0..n_f−1, the held-out ones follow."""
    y_f = np.zeros(len(d_f), np.int64) if y_f is None else np.asarray(y_f)
    y_u = np.zeros(len(d_u), np.int64) if y_u is None else np.asarray(y_u)
    data = types.SimpleNamespace(labels=np.concatenate([y_f, y_u]))
    partial, unseen = np.arange(len(d_f)), len(d_f) + np.arange(len(d_u))
    dist = Distances(
        np.arange(len(d_u)), np.asarray(d_u, float), np.asarray(d_f, float), -np.ones(len(d_f)), np.asarray(scales)
    )
    return distance_shift(data, partial, unseen, dist, ProxyOptions(), twins)


def test_distance_shift_by_hand():
    held = np.linspace(0.5, 1.5, 41)  # median 1 = the class scale
    s = read(0.5 * held, held)  # D_f twice as near: median 0.5, every held-out one farther than most of D_f's
    assert s.ratio == pytest.approx(0.5) and s.p < 1e-6 and s.shifted
    s = read(held, held)  # drawn alike
    assert s.ratio == pytest.approx(1.0) and s.p == pytest.approx(1.0) and not s.shifted
    s = read(2.0 * held, held)  # farther: held-out data nearer (more typical) than D_f
    assert s.ratio == pytest.approx(2.0) and s.shifted
    # a significant but small difference is not a shift (ratio 0.9 > shift_ratio 0.8), nor a large one on few samples
    small = read(0.9 * np.tile(held, 10), np.tile(held, 10))
    assert small.p < 1e-3 and small.ratio == pytest.approx(0.9) and not small.shifted
    assert read(0.5 * held[:9], held) is None  # fewer than 10 samples a side
    # exact copies (distance 0) are the twin check's business: 30 of them beside 41 drawn alike are no shift
    assert not read(np.concatenate([np.zeros(30), held]), held).shifted
    # near-copies the twin check found are its business: 30 D_f samples at a tenth of the scale, as twins, are
    # left out and the rest reads as drawn alike; not marked, they pull D_f's median down to 0.5 (shifted)
    near = np.concatenate([np.full(30, 0.1), held])
    assert read(near, held).shifted
    assert not read(near, held, twins=np.r_[np.ones(30, bool), np.zeros(41, bool)]).shifted
    # a class whose held-out median is 0 (exact copies everywhere) is left out: only class 1 is read
    s = read(
        np.concatenate([np.zeros(20), held]),
        np.concatenate([np.zeros(20), held]),
        [0] * 20 + [1] * 41,
        [0] * 20 + [1] * 41,
        (0.0, 1.0),
    )
    assert s.ratio == pytest.approx(1.0) and not s.shifted


def atypical_held_out(ds, share=0.12):
    """``ds`` whose held-out split is each class's ``share`` of the pool farthest from the class mean."""
    x, lab, pool = ds.x.flatten(1).float().numpy(), ds.labels, np.asarray(ds.pool)
    held = []
    for c in range(ds.num_classes):
        p = pool[lab[pool] == c]
        held.append(p[np.argsort(np.linalg.norm(x[p] - x[p].mean(0), axis=1))[-int(share * len(p)) :]])
    held = np.sort(np.concatenate(held))
    return dataclasses.replace(ds, pool=np.setdiff1d(pool, held), extra={**ds.extra, "unseen": held})


def test_auto_names_a_held_out_split_of_atypical_samples(digits):
    """Each class's 12 % most atypical digits held out: their accuracy is not a retrained model's on D_f (auto won 6
    of 60 such cells). The call says so, with the reading in its summary; a random held-out split reads near 1 and
    says nothing; ``shift_check: false`` turns it off."""

    def run(data, **proxy):
        split = uk.make_split(data, "subclass", seed=0, classes=[2], fraction=0.5)
        options = {"epochs": 1, "stopping": {"lr_factors": [1.0], "lr_lower": [], "proxy": proxy}}
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            res = uk.unlearn(train_mlp(data, split.train), data, split, "rl", options=options, device="cpu")
        auto = next(h["auto_stop"] for h in res.history if "auto_stop" in h)
        return auto, [str(w.message) for w in rec if "do not look drawn alike" in str(w.message)]

    shifted = atypical_held_out(digits)
    auto, said = run(shifted)
    assert auto["shifted"] and auto["shift_ratio"] < 0.8 and auto["shift_p"] < 1e-3
    assert len(said) == 1 and f"lie {auto['shift_ratio']:.2f}× as far" in said[0] and "may aim too far" in said[0]
    auto, said = run(digits)
    assert not auto["shifted"] and 0.9 < auto["shift_ratio"] < 1.1 and said == []
    auto, said = run(shifted, shift_check=False)
    assert auto["shift_ratio"] is None and not auto["shifted"] and said == []
