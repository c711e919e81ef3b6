"""Mixed precision and memory format for the training / unlearning loops.

``Precision(mode, device)`` bundles what a loop needs for ``fp32`` (the default: every call is a
plain no-op, so the loop stays bit-identical to one written without it), ``bf16`` (autocast only:
bf16 has fp32's exponent range, so gradients need no scaling) and ``fp16`` (autocast plus
``torch.amp.GradScaler``: the loss is scaled before backward, gradients are unscaled before they
are read, and a step whose gradients overflowed is skipped while the scale shrinks — PyTorch's
recipe, https://pytorch.org/docs/stable/notes/amp_examples.html).

A loop uses it as::

    prec = Precision(cfg.precision, device)
    with prec.autocast():
        loss = loss_fn(model(x), y)          # forward + loss under autocast
    opt.zero_grad(set_to_none=True)
    prec.backward(loss)                      # (scaled) backward
    prec.unscale_(opt)                       # only where gradients are read: clipping, masks
    prec.step(opt)                           # (scaled) step + scale update

``channels_last(model, device)`` switches a convolutional model to the NHWC memory format on CUDA
(faster convolutions with cuDNN / tensor cores); elsewhere it leaves the model untouched.
``contiguous(model)`` switches back (safetensors saves only contiguous tensors).
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch
from torch import nn

from .errors import UnlearnkitError

PrecisionName = Literal["fp32", "bf16", "fp16"]
DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast + (for fp16) gradient scaling for one loop on one device."""

    def __init__(self, mode: str = "fp32", device: torch.device | str = "cpu"):
        if mode not in DTYPES:
            raise UnlearnkitError(f"unknown precision {mode!r}; use one of: {', '.join(DTYPES)}")
        self.mode = mode
        self.device = torch.device(device)
        self.dtype = DTYPES[mode]
        if self.dtype is not None and self.device.type not in ("cuda", "cpu"):
            raise UnlearnkitError(
                f"precision {mode!r} needs a cuda or cpu device (got {self.device.type}); use precision 'fp32' there"
            )
        self.scaler = torch.amp.GradScaler(self.device.type) if mode == "fp16" else None
        self._unscaled = False

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        """Context for forward + loss (``fp32``: a null context)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def step_region(self):
        """Context around one step's forward passes (``fp32``: a null context). Autocast keeps its
        lower-precision copies of the weights until the outermost autocast region ends; inside this
        (itself autocast *disabled*) region, a step whose forget and retain forwards each run in their own
        :meth:`autocast` therefore casts every weight once, not once per forward, while the code between
        them (weights, reductions) still runs at full precision. On ResNet-18 that is about 20 casts a step
        fewer; the values are the same, since the weights do not change within a step."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype, enabled=False)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        self._unscaled = False

    def unscale_(self, opt: torch.optim.Optimizer) -> None:
        """Bring the gradients back to their true scale before they are read (clipping, masks);
        a no-op without a scaler or when already done this step."""
        if self.scaler is not None and not self._unscaled:
            self.scaler.unscale_(opt)
            self._unscaled = True

    def step(self, opt: torch.optim.Optimizer) -> None:
        """``opt.step()``; with a scaler: skipped when the gradients hold inf/NaN, then the scale updates."""
        if self.scaler is None:
            opt.step()
            return
        self.scaler.step(opt)
        self.scaler.update()
        self._unscaled = False

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        """zero_grad + backward + step for a loop with nothing between backward and step."""
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step(opt)


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def channels_last(model: nn.Module, device: torch.device | str) -> bool:
    """Switch a conv model to ``torch.channels_last`` on CUDA; returns whether inputs should follow
    (``to_format``). CPU / MPS, or a model without ``Conv2d``: untouched, False."""
    if torch.device(device).type != "cuda" or not has_conv(model):
        return False
    model.to(memory_format=torch.channels_last)
    return True


def to_format(x: torch.Tensor, nhwc: bool) -> torch.Tensor:
    """Batch inputs in the model's memory format (4-D only; otherwise unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if nhwc and x.dim() == 4 else x


def contiguous(model: nn.Module) -> nn.Module:
    """Back to the default (contiguous) format, e.g. before saving a checkpoint."""
    return model.to(memory_format=torch.contiguous_format)
