"""Mixed precision (unlearnkit.amp) and the training loop's precision setting.

fp32 must leave ``train_model`` bit-identical to the loop before AMP existed (a verbatim copy below);
bf16 / fp16 autocast run on CPU here (the CUDA path is the same code with device_type="cuda")."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn

import unlearnkit as uk
from unlearnkit.amp import Precision, channels_last, contiguous, to_format
from unlearnkit.training import batches, make_optimizer, make_scheduler

CFG = uk.TrainConfig(epochs=3, lr=0.05, batch_size=64, schedule="cosine")


def train_before_amp(model, dataset, indices, cfg, device, seed=0):
    """``train_model`` as it was before the precision setting (commit 2ff7926), verbatim minus on_epoch."""
    model.to(device).train()
    data = dataset.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = make_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(indices) / cfg.batch_size)
    sched = make_scheduler(opt, cfg.schedule, cfg.epochs * steps_per_epoch, cfg.step_size * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    for _epoch in range(cfg.epochs):
        for b in batches(indices, cfg.batch_size, gen):
            b = b.to(device)
            loss = loss_fn(model(data.inputs(b)), data.y[b])
            if not torch.isfinite(loss):
                raise AssertionError
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss.item()
    model.eval()
    return model


@pytest.fixture(scope="module")
def data():
    ds = uk.load_dataset("digits")
    return ds, np.arange(600)


def fresh(ds, name="mlp"):
    torch.manual_seed(0)
    return uk.build_model(name, ds.input_shape, ds.num_classes)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_fp32_is_bit_identical_to_the_loop_before_amp(data, name):
    ds, idx = data
    init = fresh(ds, name)
    new = uk.train_model(copy.deepcopy(init), ds, idx, CFG, torch.device("cpu"), seed=3)
    old = train_before_amp(copy.deepcopy(init), ds, idx, CFG, torch.device("cpu"), seed=3)
    a, b = weights(new), weights(old)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a[next(iter(a))], weights(init)[next(iter(a))])  # it did train


def test_precision_is_in_the_train_config_and_its_dump():
    assert uk.TrainConfig().precision == "fp32"
    assert uk.TrainConfig(precision="bf16").model_dump()["precision"] == "bf16"
    with pytest.raises(ValidationError, match="precision"):
        uk.TrainConfig(precision="fp8")


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_autocast_training_on_cpu_is_finite_moves_the_weights_and_stays_near_fp32(data, mode):
    ds, idx = data
    init = fresh(ds)
    ref = uk.train_model(copy.deepcopy(init), ds, idx, CFG, torch.device("cpu"), seed=1)
    losses = []
    low = uk.train_model(
        copy.deepcopy(init),
        ds,
        idx,
        CFG.model_copy(update={"precision": mode}),
        torch.device("cpu"),
        seed=1,
        on_epoch=lambda e, loss: losses.append(loss),
    )
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    w0, w1, w2 = weights(init), weights(ref), weights(low)
    for k in w0:
        assert torch.isfinite(w2[k]).all()
        assert w2[k].dtype == torch.float32  # master weights stay fp32
    moved = sum((w2[k] - w0[k]).norm() ** 2 for k in w0).sqrt()
    diff = sum((w2[k] - w1[k]).norm() ** 2 for k in w0).sqrt()
    assert moved > 1.0
    assert diff < 0.1 * moved  # low precision follows the fp32 trajectory closely over 3 epochs
    assert any(not torch.equal(w1[k], w2[k]) for k in w0)  # and autocast really ran
    x = ds.inputs(torch.arange(600, 900))
    agree = (ref(x).argmax(1) == low(x).argmax(1)).float().mean().item()
    assert agree > 0.95


def test_autocast_context_casts_matmuls_only_when_enabled():
    lin = nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with Precision("fp32").autocast():
        assert lin(x).dtype == torch.float32
    with Precision("bf16").autocast():
        assert lin(x).dtype == torch.bfloat16


def _weight_casts(fn) -> int:
    """How many times ``fn`` copies a float32 tensor to bfloat16 (autocast's weight casts among them)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    return sum(
        1 for e in prof.events() if e.name == "aten::_to_copy" and e.input_shapes and e.input_shapes[0] == [3, 4]
    )


def test_step_region_casts_each_weight_once_for_two_autocast_forwards_and_leaves_the_rest_full_precision():
    """Two forwards in their own autocast blocks (the loop's forget and retain terms) cast the weight twice; inside
    one ``step_region`` once, with the same outputs. Code between the blocks stays float32. fp32: a null context."""
    lin, prec = nn.Linear(4, 3), Precision("bf16")
    x1, x2 = torch.randn(2, 4), torch.randn(5, 4)

    def two_forwards(out):
        with prec.autocast():
            out.append(lin(x1))
        out.append((x1 @ x1.T).dtype)  # between the blocks
        with prec.autocast():
            out.append(lin(x2))

    apart, shared = [], []
    n_apart = _weight_casts(lambda: two_forwards(apart))

    def in_region():
        with prec.step_region():
            two_forwards(shared)

    n_shared = _weight_casts(in_region)
    assert n_apart == 2 and n_shared == 1
    assert shared[1] == torch.float32 and shared[0].dtype == shared[2].dtype == torch.bfloat16
    assert torch.equal(apart[0], shared[0]) and torch.equal(apart[2], shared[2])
    with Precision("fp32").step_region():
        assert lin(x1).dtype == torch.float32


def test_fp32_precision_step_is_a_plain_step():
    torch.manual_seed(0)
    a = nn.Linear(3, 2)
    b = copy.deepcopy(a)
    x = torch.randn(5, 3)
    oa, ob = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    Precision("fp32").backward_step(a(x).square().sum(), oa)
    ob.zero_grad()
    b(x).square().sum().backward()
    ob.step()
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_fp16_scaler_scales_backward_unscales_and_skips_an_overflowing_step():
    torch.manual_seed(0)
    lin = nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    prec = Precision("fp16", "cpu")
    x = torch.ones(1, 3)
    w0 = lin.weight.detach().clone()
    opt.zero_grad()
    prec.backward(lin(x).sum())  # d/dw = x = 1, scaled by the initial scale 2**16
    assert torch.equal(lin.weight.grad, torch.full((1, 3), 2.0**16))
    prec.unscale_(opt)
    prec.unscale_(opt)  # idempotent within a step
    assert torch.equal(lin.weight.grad, torch.ones(1, 3))
    prec.step(opt)
    assert torch.allclose(lin.weight, w0 - 0.1)
    # an overflowing gradient: the step is skipped and the scale halves
    w1 = lin.weight.detach().clone()
    opt.zero_grad()
    prec.backward(lin(torch.full((1, 3), float("inf"))).sum())
    prec.step(opt)
    assert torch.equal(lin.weight, w1)
    assert prec.scaler.get_scale() == 2.0**15


def test_unknown_precision_names_the_choices():
    with pytest.raises(uk.UnlearnkitError, match="fp32, bf16, fp16"):
        Precision("fp64")


def test_channels_last_only_on_cuda_and_only_for_conv_models():
    cnn = uk.build_model("cnn", (1, 8, 8), 10)
    assert channels_last(cnn, "cpu") is False
    assert all(p.is_contiguous() for p in cnn.parameters())
    assert channels_last(uk.build_model("mlp", (1, 8, 8), 10), "cuda") is False  # no conv: untouched
    x = torch.randn(2, 1, 8, 8)
    assert to_format(x, False) is x
    y = to_format(torch.randn(2, 3, 8, 8), True)
    assert y.is_contiguous(memory_format=torch.channels_last)
    cnn.to(memory_format=torch.channels_last)
    contiguous(cnn)
    assert all(p.is_contiguous() for p in cnn.parameters())


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_unlearning_loop_under_autocast_on_cpu_moves_like_fp32(digits, random_split, theta_o, mode):
    """The shared unlearning loop with ``precision``: finite, moves the model, close to the fp32 run (fp16
    goes through the gradient scaler, unscaled before clipping)."""
    opts = {"epochs": 1, "grad_clip": 1.0}
    ref = uk.unlearn(theta_o, digits, random_split, "rl", options=opts, device="cpu", stop="none")
    low = uk.unlearn(
        theta_o, digits, random_split, "rl", options={**opts, "precision": mode}, device="cpu", stop="none"
    )
    assert low.moved and all(torch.isfinite(v).all() for v in low.model.state_dict().values())
    assert abs(low.param_change - ref.param_change) < 0.2 * ref.param_change
    agree = (
        (low.model(digits.inputs(random_split.test)).argmax(1) == ref.model(digits.inputs(random_split.test)).argmax(1))
        .float()
        .mean()
    )
    assert agree > 0.95


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU machine)")
@pytest.mark.parametrize("mode", ["fp32", "bf16", "fp16"])
def test_cuda_training_and_unlearning_with_channels_last_follow_the_cpu_run(digits, random_split, mode):
    """On a GPU: the conv model goes channels_last, the loops run under autocast (fp16 through the scaler);
    training and unlearning (fixed schedule and stop: auto) stay finite and agree with the CPU fp32 run, and
    the result is saveable (contiguous CPU tensors)."""
    from unlearnkit.cache import cpu_state

    idx = random_split.train
    torch.manual_seed(0)
    init = uk.build_model("cnn", digits.input_shape, digits.num_classes, width=8)
    cfg = CFG.model_copy(update={"epochs": 4})
    cpu = uk.train_model(copy.deepcopy(init), digits, idx, cfg, torch.device("cpu"), seed=1)
    gpu = uk.train_model(
        copy.deepcopy(init), digits, idx, cfg.model_copy(update={"precision": mode}), torch.device("cuda"), seed=1
    )
    x = digits.inputs(torch.as_tensor(random_split.test))
    gpu_pred = gpu(x.cuda()).argmax(1).cpu()
    assert (cpu(x).argmax(1) == gpu_pred).float().mean().item() > 0.9
    gpu.cpu()
    for stop in ("none", "auto"):
        opts = {"epochs": 1, "grad_clip": 1.0, **({} if mode == "fp32" else {"precision": mode})}
        res = uk.unlearn(gpu, digits, random_split, "rl", options=opts, device="cuda", stop=stop)
        state = cpu_state(res.model)
        assert all(t.is_contiguous() and t.device.type == "cpu" and torch.isfinite(t).all() for t in state.values())
        assert res.moved or stop == "auto"


def test_unlearning_loop_in_channels_last_matches_the_default_format_and_hands_back_contiguous(
    digits, random_split, monkeypatch
):
    """The NHWC path of the unlearning loop (taken on CUDA for conv models), forced on CPU: batches follow the
    model's format, the run matches the contiguous one to float tolerance, and the model comes back contiguous."""
    import unlearnkit.methods.base as base

    torch.manual_seed(0)
    cnn = uk.build_model("cnn", digits.input_shape, digits.num_classes, width=8)
    theta = uk.train_model(cnn, digits, random_split.train, CFG.model_copy(update={"epochs": 2}), "cpu")
    opts = {"epochs": 1, "lr": 0.01}
    ref = uk.unlearn(theta, digits, random_split, "rl", options=opts, device="cpu", stop="none")
    seen = []

    def forced(model, device):
        model.to(memory_format=torch.channels_last)
        return True

    import unlearnkit.context as context

    def spy(x, flag):
        seen.append(flag)
        return to_format(x, flag)

    monkeypatch.setattr(base, "channels_last", forced)
    monkeypatch.setattr(context, "to_format", spy)
    nhwc = uk.unlearn(theta, digits, random_split, "rl", options=opts, device="cpu", stop="none")
    assert seen and all(seen)  # every training batch was put in the model's format
    for (k, a), b in zip(ref.model.state_dict().items(), nhwc.model.state_dict().values()):
        assert b.is_contiguous(), k
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def _gradient_methods() -> list[str]:
    from unlearnkit.methods import METHODS
    from unlearnkit.methods.base import GradientMethod

    return [n for n in METHODS.names() if issubclass(METHODS.get(n), GradientMethod)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU machine)")
@pytest.mark.parametrize(
    "method, weighting", [(m, "uniform") for m in _gradient_methods()] + [("rl", "falw"), ("neggrad_plus", "falw")]
)
def test_cuda_unlearning_loop_syncs_the_host_only_for_the_loss_check(digits, random_split, theta_o, method, weighting):
    """Every registered gradient method on CUDA, fixed schedule: CUDA's sync debug mode records each call that
    waits for the GPU, by source line. The only line that syncs once per step (or more) is the shared loop's
    loss check; setup and the guards' evaluations (every half epoch) may sync, but not per step."""
    import inspect

    import unlearnkit.methods.base as base
    from unlearnkit.device import host_syncs
    from unlearnkit.methods import METHODS

    src, first = inspect.getsourcelines(base.GradientMethod.optimizer_step)
    check = (base.__file__, first + next(i for i, line in enumerate(src) if "loss.item()" in line))
    # small batches: many more steps than the setup's per-tensor syncs (6 tensors in the MLP)
    cls = METHODS.get(method)  # the batch sizes of the sets it reads (an option it ignores is an error)
    opts = {"epochs": 2, "lr": 1e-4} | ({"batch_size": 4} if cls.uses_forget else {})
    opts |= {"retain_batch_size": 16} if cls.uses_retain else {}
    new = lambda: uk.build_model("mlp", digits.input_shape, digits.num_classes)  # noqa: E731 - bad_teacher's teacher
    run = lambda: uk.unlearn(  # noqa: E731
        theta_o, digits, random_split, method, weighting, options=opts, device="cuda", stop="none", new_model=new
    )
    run()  # warm-up
    results = []
    by_line = host_syncs(lambda: results.append(run()))
    assert results[0].moved
    assert by_line[check] >= 60, f"the loss check was not seen syncing every step: {by_line.most_common(5)}"
    steps = by_line[check]  # the loss check runs once per step
    per_step = {k: c for k, c in by_line.items() if c >= steps and k != check}
    assert not per_step, f"{method}: lines that sync the host every step besides the loss check: {per_step}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-CUDA error")
def test_host_syncs_without_cuda_is_a_clear_error_and_runs_nothing():
    from unlearnkit.device import host_syncs
    from unlearnkit.errors import UnlearnkitError

    ran = []
    with pytest.raises(UnlearnkitError, match="needs a CUDA device"):
        host_syncs(lambda: ran.append(1))
    assert not ran
