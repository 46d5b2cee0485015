"""A linear-chain CRF with transition constraints, vectorised Viterbi and marginals.

The parameters and the training likelihood are those of ``torchcrf.CRF``; decoding and
forward-backward add the scheme's constraints as a large negative score on forbidden
starts, transitions and ends, so no decoded path is invalid and marginals agree with it.
"""

from __future__ import annotations

import torch
from torch import nn
from torchcrf import CRF

FORBIDDEN = -1e4  # log-score of a forbidden transition: exp() of it is 0 in float32


class ConstrainedCRF(nn.Module):
    """``torchcrf.CRF`` (batch first) plus constrained decoding and posteriors.

    ``constraints`` is ``(start, transitions, end)`` of booleans as from
    ``schemes.allowed_transitions``; ``None`` allows everything.
    """

    def __init__(self, num_tags: int, constraints: tuple[list, list, list] | None = None):
        super().__init__()
        self.crf = CRF(num_tags, batch_first=True)
        if constraints is None:
            constraints = ([True] * num_tags, [[True] * num_tags] * num_tags, [True] * num_tags)
        start, transitions, end = (torch.tensor(c, dtype=torch.bool) for c in constraints)
        if start.shape != (num_tags,) or transitions.shape != (num_tags, num_tags) or end.shape != (num_tags,):
            raise ValueError(
                f"constraints for {num_tags} tags have shapes {start.shape}, {transitions.shape}, {end.shape}"
            )
        self.register_buffer("start_penalty", (~start).float() * FORBIDDEN, persistent=False)
        self.register_buffer("transition_penalty", (~transitions).float() * FORBIDDEN, persistent=False)
        self.register_buffer("end_penalty", (~end).float() * FORBIDDEN, persistent=False)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood of the gold ``tags``.

        emissions: (batch, seq_len, num_tags); tags: (batch, seq_len); mask: (batch, seq_len)
        bool with every first step on.
        """
        return -self.crf(emissions, tags, mask=mask, reduction="sum")

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            self.crf.start_transitions + self.start_penalty,  # shape: (num_tags,)
            self.crf.transitions + self.transition_penalty,  # shape: (num_tags, num_tags)
            self.crf.end_transitions + self.end_penalty,  # shape: (num_tags,)
        )

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best valid tag ids, shape (batch, seq_len); steps outside ``mask`` hold 0."""
        start, transitions, end = self._scores()
        batch, seq_len, _ = emissions.shape
        score = start + emissions[:, 0]  # shape: (batch, num_tags)
        backpointers = []
        for t in range(1, seq_len):
            # shape: (batch, num_tags [previous], num_tags [current])
            best, previous = (score.unsqueeze(2) + transitions).max(dim=1)
            score = torch.where(mask[:, t, None], best + emissions[:, t], score)
            backpointers.append(previous)
        current = (score + end).argmax(dim=1)  # shape: (batch,)
        lengths = mask.sum(dim=1)
        tags = torch.zeros(batch, seq_len, dtype=torch.long, device=emissions.device)
        for t in range(seq_len - 1, 0, -1):
            active = t < lengths  # shape: (batch,)
            tags[:, t] = torch.where(active, current, 0)
            previous = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
            current = torch.where(active, previous, current)
        tags[:, 0] = current
        return tags

    def posteriors(self, emissions: torch.Tensor, mask: torch.Tensor) -> "Posteriors":
        """Forward-backward scores of the constrained CRF, in float64.

        Forward and backward scores grow with the sentence's length, and a probability is
        their sum minus ``log_z``: in float32 that difference would lose ~1e-5 on a long
        sentence, enough for a span's confidence to depend on its batch-mates.
        """
        start, transitions, end = (scores.double() for scores in self._scores())
        emissions = emissions.double()
        seq_len = emissions.shape[1]
        alpha = [start + emissions[:, 0]]  # each: (batch, num_tags)
        for t in range(1, seq_len):
            step = torch.logsumexp(alpha[-1].unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha.append(torch.where(mask[:, t, None], step, alpha[-1]))
        beta = [end.expand_as(alpha[0])]
        for t in range(seq_len - 2, -1, -1):
            following = (emissions[:, t + 1] + beta[-1]).unsqueeze(1)  # shape: (batch, 1, num_tags)
            step = torch.logsumexp(transitions + following, dim=2)
            beta.append(torch.where(mask[:, t + 1, None], step, beta[-1]))
        alpha_all = torch.stack(alpha, dim=1)  # shape: (batch, seq_len, num_tags)
        beta_all = torch.stack(beta[::-1], dim=1)  # shape: (batch, seq_len, num_tags)
        log_z = torch.logsumexp(alpha[-1] + end, dim=1)  # shape: (batch,)
        return Posteriors(alpha_all, beta_all, log_z, emissions, transitions)


class Posteriors:
    """Forward (``alpha``) and backward (``beta``) log-scores of a batch, and what they give."""

    def __init__(self, alpha, beta, log_z, emissions, transitions):
        self.alpha, self.beta, self.log_z = alpha, beta, log_z
        self.emissions, self.transitions = emissions, transitions

    def marginals(self) -> torch.Tensor:
        """P(tag at step t = k), shape (batch, seq_len, num_tags); rows past a length are junk."""
        return (self.alpha + self.beta - self.log_z[:, None, None]).exp()

    def along(self, tags: torch.Tensor) -> "PathScores":
        """Scores along decoded ``tags`` (batch, seq_len), for token and span confidences."""
        index = tags.unsqueeze(2)  # shape: (batch, seq_len, 1)
        alpha = self.alpha.gather(2, index).squeeze(2)  # shape: (batch, seq_len)
        beta = self.beta.gather(2, index).squeeze(2)
        emitted = self.emissions.gather(2, index).squeeze(2)
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # shape: (batch, seq_len - 1)
        steps = torch.cat([torch.zeros_like(emitted[:, :1]), moved + emitted[:, 1:]], dim=1)
        return PathScores(alpha, beta, steps.cumsum(dim=1), self.log_z)


class PathScores:
    """Log-scores along one path per sequence, as plain lists for cheap lookups."""

    def __init__(self, alpha: torch.Tensor, beta: torch.Tensor, cumulative: torch.Tensor, log_z: torch.Tensor):
        self.token_log_probs = (alpha + beta - log_z[:, None]).tolist()  # log P(tag_t = path_t)
        self.alpha, self.beta = alpha.tolist(), beta.tolist()
        self.cumulative, self.log_z = cumulative.tolist(), log_z.tolist()

    def span_log_prob(self, index: int, start: int, end: int) -> float:
        """log P(tokens ``start:end`` of sequence ``index`` carry exactly the path's tags)."""
        last = end - 1
        inside = self.cumulative[index][last] - self.cumulative[index][start]
        return self.alpha[index][start] + inside + self.beta[index][last] - self.log_z[index]
