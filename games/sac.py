"""A small soft actor-critic in torch: the learner of :func:`games.qarl.train`.

:class:`SAC` is a tanh-Gaussian actor with twin critics, target critics updated by Polyak
averaging and a *given* entropy weight per transition (the adversary of QARL is conditioned on its
temperature, which changes from episode to episode). :class:`ReplayBuffer` stores the two-player
transitions ``(o, a, b, r, o', done, temperature)``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

__all__ = ["SAC", "ReplayBuffer", "sac_parameters"]

#: The networks of a :class:`SAC` (the keys of its state dict).
NETWORKS = ("actor", "q1", "q2", "q1_t", "q2_t")


class SAC:
    """Soft actor-critic: tanh-Gaussian actor, twin critics, fixed (per-transition) entropy weight.

    Parameters
    ----------
    obs_dim, act_dim : int
    hidden : int
        Width of the two hidden ReLU layers of every network.
    lr, gamma, tau : float
        Adam step, discount and Polyak factor of the target critics.
    act_scale : float
        Actions are ``act_scale * tanh(u)``.
    cond : int
        Extra inputs appended to the observation (the adversary's temperature).
    device : torch.device
    gen : torch.Generator
        Source of the exploration noise (CPU).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, lr: float, gamma: float, tau: float,
                 act_scale: float, cond: int, device: Any, gen: torch.Generator) -> None:
        self.device = device
        self.gamma, self.tau, self.act_scale = gamma, tau, act_scale
        inp = obs_dim + cond

        def mlp(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, o)).to(device)

        self.actor = mlp(inp, 2 * act_dim)
        self.q1, self.q2 = mlp(inp + act_dim, 1), mlp(inp + act_dim, 1)
        self.q1_t, self.q2_t = mlp(inp + act_dim, 1), mlp(inp + act_dim, 1)
        self.q1_t.load_state_dict(self.q1.state_dict())
        self.q2_t.load_state_dict(self.q2.state_dict())
        self.opt_a = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.opt_q = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=lr)
        self.gen = gen

    def _dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.actor(obs).chunk(2, dim=-1)
        return mu, log_std.clamp(-5, 1).exp()

    def sample(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions and their log-densities (tanh-corrected) at ``obs``."""
        mu, std = self._dist(obs)
        if deterministic:
            u = mu
        else:
            noise = torch.randn(mu.shape, generator=self.gen, device="cpu").to(mu.device)
            u = mu + std * noise
        a = torch.tanh(u)
        logp = (-0.5 * ((u - mu) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - torch.log(1 - a.pow(2) + 1e-6).sum(-1)
        return a * self.act_scale, logp

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """The action for one observation, float64."""
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
            a, _ = self.sample(o, deterministic)
        return a[0].cpu().numpy().astype(np.float64)

    def update(self, o: torch.Tensor, a: torch.Tensor, r: torch.Tensor, o2: torch.Tensor, d: torch.Tensor,
               ent: torch.Tensor) -> None:
        """One SAC step; ``ent`` is the entropy weight per transition (a tensor, shape (B,))."""
        with torch.no_grad():
            a2, logp2 = self.sample(o2)
            x2 = torch.cat([o2, a2 / self.act_scale], -1)
            qt = torch.min(self.q1_t(x2), self.q2_t(x2)).squeeze(-1) - ent * logp2
            y = r + self.gamma * (1 - d) * qt
        x = torch.cat([o, a / self.act_scale], -1)
        lq = ((self.q1(x).squeeze(-1) - y) ** 2).mean() + ((self.q2(x).squeeze(-1) - y) ** 2).mean()
        self.opt_q.zero_grad()
        lq.backward()
        self.opt_q.step()
        an, logp = self.sample(o)
        xn = torch.cat([o, an / self.act_scale], -1)
        la = (ent * logp - torch.min(self.q1(xn), self.q2(xn)).squeeze(-1)).mean()
        self.opt_a.zero_grad()
        la.backward()
        self.opt_a.step()
        with torch.no_grad():
            for net, tgt in ((self.q1, self.q1_t), (self.q2, self.q2_t)):
                for p, pt in zip(net.parameters(), tgt.parameters()):
                    pt.mul_(1 - self.tau).add_(self.tau * p)

    def state_dict(self) -> dict:
        return {n: getattr(self, n).state_dict() for n in NETWORKS}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        for n, v in sd.items():
            getattr(self, n).load_state_dict(v)


def sac_parameters(obs_dim: int, hidden: int, cond: int, act_dim: int = 1) -> int:
    """Parameters of one :class:`SAC` (actor and four critics), computed without building it."""
    def mlp(i: int, o: int) -> int:
        return (i + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * o

    inp = obs_dim + cond
    return mlp(inp, 2 * act_dim) + 4 * mlp(inp + act_dim, 1)


class ReplayBuffer:
    """A ring buffer of two-player transitions ``(o, a, b, r, o', done, temperature)``, float32."""

    def __init__(self, obs_dim: int, act_dim: int, size: int) -> None:
        self.o = np.zeros((size, obs_dim), np.float32)
        self.o2 = np.zeros((size, obs_dim), np.float32)
        self.a = np.zeros((size, act_dim), np.float32)
        self.b = np.zeros((size, act_dim), np.float32)
        self.r = np.zeros(size, np.float32)
        self.d = np.zeros(size, np.float32)
        self.t = np.zeros(size, np.float32)   # adversary temperature of the episode
        self.n, self.i, self.size = 0, 0, size

    def add(self, o: Any, a: Any, b: Any, r: float, o2: Any, d: float, t: float) -> None:
        i = self.i
        self.o[i], self.a[i], self.b[i], self.r[i], self.o2[i], self.d[i], self.t[i] = o, a, b, r, o2, d, t
        self.i = (i + 1) % self.size
        self.n = min(self.n + 1, self.size)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """Indices of ``k`` transitions drawn uniformly with replacement."""
        return rng.integers(0, self.n, size=k)
