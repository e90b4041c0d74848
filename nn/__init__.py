"""chainrule.nn: modules, losses, optimizers and datasets built on autograd."""

from __future__ import annotations

from . import datasets, optim
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
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
from .viz import LayerDelta, LayerDeltas, NetworkEdge, draw_network, layer_deltas, save_network_svg

__all__ = [
    "ACTIVATIONS",
    "Checkpoint",
    "INITS",
    "MLP",
    "Layer",
    "LayerDelta",
    "LayerDeltas",
    "Module",
    "NetworkEdge",
    "Neuron",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_batch",
    "datasets",
    "draw_network",
    "from_torch",
    "hinge_loss",
    "l2_penalty",
    "layer_deltas",
    "load_checkpoint",
    "load_model",
    "log_softmax",
    "mse_loss",
    "optim",
    "save_checkpoint",
    "save_network_svg",
    "softmax",
    "to_torch",
]
