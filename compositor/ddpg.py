"""DDPG agent of the CNP compositor: actor mu(s), action-conditioned critic Q(s, a), target networks,
replay buffer, and the imitation (behaviour-cloning) warm-start term.

Updates (Lillicrap et al. 2016, as in the release's ``DRL/ddpg.py``):

- critic: ``L_Q = (Q(s, a) - y)^2``, ``y = r + gamma * (1 - done) * Q'(s', mu'(s'))``;
- actor: ``L_mu = -lambda * Q(s, mu(s)) + w_bc * ||mu(s) - a_teacher(s)||^2`` with
  ``lambda = alpha_q / mean|Q|`` (TD3+BC-style normalisation; ``w_bc = 0`` gives plain DDPG);
- soft target updates ``theta' <- tau * theta + (1 - tau) * theta'``;
- optionally a critic warm-up first (:meth:`DDPG.update_critic`: critic steps only, the actor frozen),
  so that the actor starting from imitation does not follow an untrained critic's gradient.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from compositor.env import teacher_box
from compositor.model import Actor, Critic, nearest_anchor


class ReplayBuffer:
    """Transitions (target, canvas, action, reward, next canvas, done, teacher box), images stored as
    uint8 on CPU. The teacher box (the imitation label of the state; the painter is frozen, so it never
    changes) is computed once when the state is stored instead of at every replay."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity = capacity
        self.data: list[tuple] = []
        self.pos = 0
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.data)

    @staticmethod
    def _u8(x: torch.Tensor) -> torch.Tensor:
        return (x.detach().cpu() * 255).round().to(torch.uint8)

    def push(self, target, canvas, action, reward, next_canvas, done: bool, teacher=None) -> None:
        """Store E transitions: (E, 3, S, S) images in [0, 1], (E, 4) action, (E,) reward, and the
        (E, 4) teacher boxes of the states (or None: the batch then carries NaN labels)."""
        t8, c8, n8 = self._u8(target), self._u8(canvas), self._u8(next_canvas)
        if teacher is None:
            teacher = torch.full_like(action, float("nan"))
        for i in range(t8.shape[0]):
            item = (
                t8[i],
                c8[i],
                action[i].detach().cpu(),
                float(reward[i]),
                n8[i],
                float(done),
                teacher[i].detach().cpu(),
            )
            if len(self.data) < self.capacity:
                self.data.append(item)
            else:
                self.data[self.pos] = item
                self.pos = (self.pos + 1) % self.capacity

    def sample(self, batch: int, device):
        idx = torch.randint(len(self.data), (batch,), generator=self.gen).tolist()
        cols = list(zip(*[self.data[i] for i in idx], strict=True))
        t = torch.stack(cols[0]).to(device).float() / 255
        c = torch.stack(cols[1]).to(device).float() / 255
        a = torch.stack(cols[2]).to(device)
        r = torch.tensor(cols[3], device=device)
        n = torch.stack(cols[4]).to(device).float() / 255
        d = torch.tensor(cols[5], device=device)
        teacher = torch.stack(cols[6]).to(device)
        return t, c, a, r, n, d, teacher


class DDPG:
    """Actor, critic, their targets and optimisers.

    Args:
        actor: the policy. gamma: discount (0.95 ** 5 in the release). tau: soft-update rate.
        lr_actor, lr_critic: Adam learning rates (release: 1e-3 / 3e-4 for the first 1M steps).
        bc_weight: weight of the imitation term (0 = plain DDPG). alpha_q: Q-term scale.
    """

    def __init__(
        self,
        actor: Actor,
        device,
        gamma=0.95**5,
        tau=0.01,
        lr_actor=1e-4,
        lr_critic=3e-4,
        bc_weight=1.0,
        alpha_q=0.5,
    ):
        self.actor = actor.to(device)
        self.critic = Critic().to(device)
        self.actor_target = copy.deepcopy(self.actor).eval()
        self.critic_target = copy.deepcopy(self.critic).eval()
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=lr_actor)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=lr_critic)
        self.gamma, self.tau, self.bc_weight, self.alpha_q = gamma, tau, bc_weight, alpha_q
        self.teacher_painter = None  # set to the frozen painter for the look-ahead teacher

    def act(self, target, canvas, noise: float = 0.0) -> torch.Tensor:
        self.actor.eval()
        with torch.no_grad():
            a = self.actor(target, canvas)
        if noise > 0:
            a = (a + noise * torch.randn_like(a)).clamp(0, 1)
        return a

    def _teacher(self, t, c, stored) -> torch.Tensor:
        """Imitation labels: the stored teacher boxes, recomputed where missing (NaN)."""
        if not torch.isnan(stored).any():
            return stored
        return teacher_box(t, c, self.actor.config.min_box, self.teacher_painter)

    def _imitation(self, t, c, stored) -> torch.Tensor:
        """Behaviour-cloning loss towards the teacher's boxes: cross-entropy on the nearest anchor for
        the "anchors" head, MSE on the corners for the "corners" head."""
        teacher = self._teacher(t, c, stored)
        if self.actor.config.head == "anchors":
            return F.cross_entropy(self.actor.scores(t, c), nearest_anchor(teacher, self.actor.anchors))
        return F.mse_loss(self.actor.soft_action(t, c), teacher)

    def update(self, batch) -> dict:
        """One critic and one actor step on a replay batch (see the module docstring); returns losses."""
        t, c, _, _, _, _, stored = batch
        loss_q, _ = self._critic_step(batch)

        self.actor.train()
        mu = self.actor.soft_action(t, c)
        q_mu = self.critic(t, c, mu)
        lam = self.alpha_q / (q_mu.detach().abs().mean() + 1e-6)
        loss_bc = self._imitation(t, c, stored) if self.bc_weight > 0 else mu.sum() * 0
        loss_mu = -lam * q_mu.mean() + self.bc_weight * loss_bc
        self.opt_actor.zero_grad(set_to_none=True)
        loss_mu.backward()
        self.opt_actor.step()
        self.critic.zero_grad(set_to_none=True)  # the actor step also filled the critic's grads
        self._soft_update((self.actor, self.actor_target), (self.critic, self.critic_target))
        return {"critic": loss_q.item(), "q": q_mu.mean().item(), "bc": loss_bc.item()}

    def _critic_step(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """One Adam step on ``L_Q = (Q(s, a) - y)^2``, ``y = r + gamma (1 - d) Q'(s', mu'(s'))`` with the
        target networks; returns the loss (scalar) and Q(s, a) before the step, (B,)."""
        t, c, a, r, n, d, _ = batch
        with torch.no_grad():
            q_next = self.critic_target(t, n, self.actor_target(t, n))
            y = r + self.gamma * (1 - d) * q_next
        q = self.critic(t, c, a)
        loss_q = F.mse_loss(q, y)
        self.opt_critic.zero_grad(set_to_none=True)
        loss_q.backward()
        self.opt_critic.step()
        return loss_q, q.detach()

    @torch.no_grad()
    def _soft_update(self, *pairs) -> None:
        """Polyak update ``theta' <- (1 - tau) theta' + tau theta`` of each (network, target) pair;
        buffers (normalisation statistics) are copied."""
        for net, tgt in pairs:
            for p, pt in zip(net.parameters(), tgt.parameters(), strict=True):
                pt.mul_(1 - self.tau).add_(self.tau * p)
            for b, bt in zip(net.buffers(), tgt.buffers(), strict=True):
                bt.copy_(b)

    def update_critic(self, batch) -> dict:
        """Critic-only step (the critic's warm-up before the actor follows it; actor untouched):
        :meth:`_critic_step`, then the critic's soft target update."""
        loss_q, q = self._critic_step(batch)
        self._soft_update((self.critic, self.critic_target))
        return {"critic": loss_q.item(), "q": q.mean().item(), "bc": 0.0}

    def update_bc(self, batch) -> dict:
        """Imitation-only actor step ``L = ||mu(s) - a_teacher(s)||^2`` (warm-up phase; critic untouched)."""
        t, c = batch[0], batch[1]
        self.actor.train()
        loss_bc = self._imitation(t, c, batch[6])
        self.opt_actor.zero_grad(set_to_none=True)
        loss_bc.backward()
        self.opt_actor.step()
        with torch.no_grad():
            for p, pt in zip(self.actor.parameters(), self.actor_target.parameters(), strict=True):
                pt.copy_(p)
            for b, bt in zip(self.actor.buffers(), self.actor_target.buffers(), strict=True):
                bt.copy_(b)
        return {"critic": 0.0, "q": 0.0, "bc": loss_bc.item()}

    def state(self) -> dict:
        return {
            "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "opt_actor": self.opt_actor.state_dict(),
            "opt_critic": self.opt_critic.state_dict(),
        }

    def load_state(self, state: dict) -> None:
        from common.checkpoint import load_model_state

        load_model_state(self.critic, state["critic"])
        load_model_state(self.actor_target, state["actor_target"])
        load_model_state(self.critic_target, state["critic_target"])
        self.opt_actor.load_state_dict(state["opt_actor"])
        self.opt_critic.load_state_dict(state["opt_critic"])
