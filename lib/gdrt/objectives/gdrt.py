"""The GDRT loss (paper Eq. 5, gradient as Eq. 11) as pure functions of per-token losses.

Explained in chapter 4 (Lemma 1) and chapter 5, "The loss".
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def group_stats(token_loss: torch.Tensor, token_group: torch.Tensor, n_groups: int):
    """Per-group sum of token losses and token counts.

    ``token_loss``: float ``[N]``; ``token_group``: long ``[N]`` with values in ``0..n_groups-1``
    (index 0 = group 1, the most relevant); entries with group ``-1`` (padding) are ignored.
    Returns ``(sums[G], counts[G])``; ``sums`` carries the gradient.
    """
    keep = token_group >= 0
    acc = torch.promote_types(token_loss.dtype, torch.float32)  # bf16/fp16 sums and counts lose tokens
    loss, group = token_loss[keep].to(acc), token_group[keep]
    sums = torch.zeros(n_groups, dtype=acc, device=loss.device).index_add(0, group, loss)
    counts = torch.bincount(group, minlength=n_groups).to(acc)
    return sums, counts


def group_weights(group_loss: torch.Tensor, present: torch.Tensor, tau: float) -> torch.Tensor:
    """``Q(g) = softmax(L(g)/tau)`` over the groups ``present``; absent groups get weight 0 (Eq. 5)."""
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    logits = torch.where(present, group_loss / tau, torch.full_like(group_loss, float("-inf")))
    if not bool(present.any()):
        return torch.zeros_like(group_loss)
    return torch.softmax(logits, dim=0)


def gdrt_loss(
    token_loss: torch.Tensor,
    token_group: torch.Tensor,
    n_groups: int,
    tau: float,
    all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    """``sum_g Q(g) L(g)`` with ``Q = softmax(L/tau)`` held constant (Eq. 5); its gradient equals that
    of ``tau * logsumexp(L/tau)`` (Eq. 11).

    ``all_reduce`` (optional) sums a tensor over processes; the group sums and counts of the whole
    global batch then define ``L`` and ``Q``, so the result equals one process seeing the whole batch.
    The returned loss is this process's share: the mean over processes of the returned losses is the
    global loss (the convention under which DDP averages gradients).

    Returns ``(loss, info)`` with ``info = {"group_loss": L[G], "weights": Q[G], "counts": n[G]}``
    (detached; absent groups have ``L = nan`` and ``Q = 0``).
    """
    sums, counts = group_stats(token_loss, token_group, n_groups)
    stats = torch.cat([sums.detach(), counts]).unsqueeze(0)
    world = 1
    if all_reduce is not None:
        world_t = torch.ones(1, 1, dtype=stats.dtype, device=stats.device)
        stats = all_reduce(torch.cat([stats, world_t], dim=1))
        world = int(round(stats[0, -1].item()))
        stats = stats[:, :-1]
    g_sums, g_counts = stats[0, :n_groups], stats[0, n_groups:]
    present = g_counts > 0
    safe = g_counts.clamp_min(1)
    group_loss = torch.where(present, g_sums / safe, torch.full_like(g_sums, float("nan")))
    q = group_weights(torch.nan_to_num(group_loss, nan=0.0), present, tau)
    loss = world * (q * sums / safe).sum()
    return loss, {"group_loss": group_loss, "weights": q, "counts": g_counts}


def group_dro_objective(group_loss: torch.Tensor, tau: float) -> torch.Tensor:
    """``tau * log sum_g exp(L(g)/tau)`` (Eq. 11 up to the constants ``tau*eta - tau*log G``)."""
    return tau * torch.logsumexp(group_loss / tau, dim=0)
