"""Batched, gradient-free forward passes over index sets."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def predict_logits(
    model: nn.Module, dataset, idx: np.ndarray, batch_size: int = 2048, device: torch.device | None = None
) -> torch.Tensor:
    """Logits of ``model`` (eval mode, restored afterwards) on ``dataset[idx]``, on the CPU."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    data = dataset.to(device)
    idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    out = [
        model(data.inputs(idx_t[s : s + batch_size].to(device))).float().cpu() for s in range(0, len(idx_t), batch_size)
    ]
    model.train(was_training)
    num_out = out[0].shape[1] if out else 0
    return torch.cat(out) if out else torch.empty(0, num_out)
