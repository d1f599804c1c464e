"""Random ReLU networks as (W, b) lists and their float64 forward pass, shared by the network tests."""

import numpy as np


def random_net(sizes, rng, bias=0.3):
    return [(rng.normal(size=(o, i)) / np.sqrt(i), rng.normal(size=o) * bias) for i, o in zip(sizes[:-1], sizes[1:])]


def forward(layers, a, s):
    z = np.concatenate([a, s]).astype(float)
    for W, b in layers[:-1]:
        z = np.maximum(W @ z + b, 0.0)
    W, b = layers[-1]
    return float((W @ z + b)[0])
