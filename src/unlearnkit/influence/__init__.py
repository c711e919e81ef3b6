"""Influence functions: per-sample gradients, exact Hessians, weighted influence, soft-weight QP."""

from .hessian import cho_solve, cholesky, linear_head_hessian
from .influence import LinearInfluence, embed, head_params, linear_head, set_head_params
from .per_sample import flatten_grads, linear_head_grads, per_sample_grads
from .qp import SCHEMES, bounded_weights, hard_weights, only_target_weights, qp_weights

__all__ = [
    "LinearInfluence",
    "SCHEMES",
    "bounded_weights",
    "cho_solve",
    "cholesky",
    "embed",
    "flatten_grads",
    "hard_weights",
    "head_params",
    "linear_head",
    "linear_head_grads",
    "linear_head_hessian",
    "only_target_weights",
    "per_sample_grads",
    "qp_weights",
    "set_head_params",
]
