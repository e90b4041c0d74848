"""chainrule.nn: modules, losses, optimizers and datasets built on autograd."""

from __future__ import annotations

from . import datasets, optim
from .interop import from_torch, to_torch
from .losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    cross_entropy_batch,
    hinge_loss,
    l2_penalty,
    log_softmax,
    mse_loss,
    softmax,
)
from .module import ACTIVATIONS, INITS, MLP, Layer, Module, Neuron, load_model
from .viz import LayerDelta, LayerDeltas, layer_deltas

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "Layer",
    "LayerDelta",
    "LayerDeltas",
    "Module",
    "Neuron",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_batch",
    "datasets",
    "from_torch",
    "hinge_loss",
    "l2_penalty",
    "layer_deltas",
    "load_model",
    "log_softmax",
    "mse_loss",
    "optim",
    "softmax",
    "to_torch",
]
