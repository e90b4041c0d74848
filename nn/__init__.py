"""chainrule.nn: modules, losses, optimizers and datasets built on autograd."""
