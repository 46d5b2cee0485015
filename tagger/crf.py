"""A linear-chain CRF with transition constraints, vectorised Viterbi and marginals.

The parameters and the training likelihood are those of ``torchcrf.CRF``; decoding and
forward-backward add the scheme's constraints as a large negative score on forbidden
starts, transitions and ends, so no decoded path is invalid and marginals agree with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torchcrf import CRF

FORBIDDEN = -1e4  # log-score of a forbidden transition: exp() of it is 0 in float32
SCALED_SPREAD = 60.0  # nats of scores a step may span for the scaled forward-backward: e^-60 is far from underflow


Scores = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # start (tags,), transitions (tags, tags), end (tags,)


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

    def soft_nll(
        self, emissions: torch.Tensor, mask: torch.Tensor, marginals: torch.Tensor, moves: torch.Tensor
    ) -> torch.Tensor:
        """Summed cross-entropy of this CRF's tag sequences against another distribution over them (a teacher's,
        ``Posteriors``), given by what the CRF's score reads of it: ``marginals`` (batch, seq_len, num_tags), each
        step's P(tag), and ``moves`` (batch, num_tags, num_tags), the expected count of each transition. It is the
        log-partition minus the expected score; for the marginals and moves of one path, ``nll`` of that path."""
        crf = self.crf
        expected = (marginals * emissions).masked_fill(~mask.unsqueeze(2), 0.0).sum(dim=(1, 2))
        expected = expected + (moves * crf.transitions).sum(dim=(1, 2))
        last = marginals[torch.arange(len(mask)), mask.sum(dim=1) - 1]  # shape: (batch, num_tags)
        expected = expected + marginals[:, 0] @ crf.start_transitions + last @ crf.end_transitions
        return (self.log_partition(emissions, mask) - expected).sum()

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log of the sum of every tag sequence's exponentiated score, per sequence (batch,): ``nll``'s normaliser,
        unconstrained as it is."""
        crf = self.crf
        score = crf.start_transitions + emissions[:, 0]  # shape: (batch, num_tags)
        for t in range(1, emissions.shape[1]):
            reached = torch.logsumexp(score.unsqueeze(2) + crf.transitions, dim=1) + emissions[:, t]
            score = torch.where(mask[:, t, None], reached, score)
        return torch.logsumexp(score + crf.end_transitions, dim=1)

    def scores(self) -> Scores:
        """The start, transition and end scores, forbidden moves at ``FORBIDDEN``: what decoding reads."""
        return (
            self.crf.start_transitions + self.start_penalty,  # shape: (num_tags,)
            self.crf.transitions + self.transition_penalty,  # shape: (num_tags, num_tags)
            self.crf.end_transitions + self.end_penalty,  # shape: (num_tags,)
        )

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor, scores: Scores | None = None) -> torch.Tensor:
        """Best valid tag ids, shape (batch, seq_len); steps outside ``mask`` hold 0. ``scores`` stand for the
        CRF's own (``scores``) when given, as those of several CRFs together (``mean_scores``) do."""
        start, transitions, end = scores or self.scores()
        batch, seq_len, _ = emissions.shape
        lengths = mask.sum(dim=1)
        shortest = int(lengths.min())  # steps before it are every sequence's: no mask to apply
        score = start + emissions[:, 0]  # shape: (batch, num_tags)
        backpointers = []
        for t in range(1, seq_len):
            # shape: (batch, num_tags [previous], num_tags [current])
            best, previous = (score.unsqueeze(2) + transitions).max(dim=1)
            reached = best + emissions[:, t]
            score = reached if t < shortest else torch.where(mask[:, t, None], reached, score)
            backpointers.append(previous)
        current = (score + end).argmax(dim=1)  # shape: (batch,)
        tags = torch.zeros(batch, seq_len, dtype=torch.long, device=emissions.device)
        for t in range(seq_len - 1, 0, -1):
            previous = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
            if t < shortest:
                tags[:, t], current = current, previous
                continue
            active = t < lengths  # shape: (batch,)
            tags[:, t] = torch.where(active, current, 0)
            current = torch.where(active, previous, current)
        tags[:, 0] = current
        return tags

    def posteriors(self, emissions: torch.Tensor, mask: torch.Tensor, scores: Scores | None = None) -> "Posteriors":
        """Forward-backward scores of the constrained CRF (or of ``scores``, as ``decode`` takes them), scaled
        (Rabiner 1989), as float64 log-scores.

        Each step's forward and backward vectors are kept as probabilities that sum to 1 (float32
        products and sums over the tags: a few cheap ops a step where a log-space step takes a
        logsumexp), and the logs of their normalisers are summed in float64 at the end. So nothing
        grows with the sentence's length: in float32 log space the forward and backward scores
        would, and a probability (their sum minus ``log_z``) lose ~1e-5 on a long sentence.
        Forbidden moves are exactly 0. A sentence whose scores at some step span more than
        ``SCALED_SPREAD`` nats (a step's emissions plus the allowed transitions), where a product of
        probabilities could underflow to 0, is computed in float64 log space instead (``_log_space``).
        """
        start, transitions, end = scores or self.scores()
        peak = emissions.max(dim=2).values  # shape: (batch, seq_len)
        emitted = (emissions - peak.unsqueeze(2)).exp()  # shape: (batch, seq_len, num_tags), each step's best 1
        (starts, start_peak), (moves, move_peak), (ends, end_peak) = map(_scaled, (start, transitions, end))
        steps = emissions.shape[1]
        shortest = int(mask.sum(dim=1).min())  # steps before it are every sequence's: no mask to apply
        alphas, alpha_sums = [], []
        for t in range(steps):
            vector = starts * emitted[:, 0] if t == 0 else (alphas[-1] @ moves) * emitted[:, t]
            _keep(alphas, alpha_sums, vector, mask[:, t, None] if t >= shortest else None)
        betas, beta_sums = [], []  # from the last step back
        for t in range(steps - 1, -1, -1):
            if t == steps - 1:
                vector, step = ends.expand_as(emitted[:, 0]), 0  # the masking step: a sequence's first
            else:
                vector, step = (emitted[:, t + 1] * betas[-1]) @ moves.T, t + 1
            _keep(betas, beta_sums, vector, mask[:, step, None] if step >= shortest else None)
        moved = torch.where(mask, peak + move_peak, 0.0)[:, 1:]  # the factor each step took out of its normalisers
        alpha = _log_scores(alphas, alpha_sums, torch.cat([peak[:, :1] + start_peak, moved], dim=1))
        beta = _log_scores(betas, beta_sums, torch.cat([end_peak.expand(len(peak), 1), moved.flip(1)], dim=1)).flip(1)
        allowed = torch.cat([start, transitions.flatten(), end])
        allowed = allowed[allowed > FORBIDDEN / 2]
        spread = peak - emissions.min(dim=2).values + (allowed.max() - allowed.min())  # shape: (batch, seq_len)
        sharp = (spread.masked_fill(~mask, 0.0) > SCALED_SPREAD).any(dim=1).nonzero().squeeze(1)
        if len(sharp):
            alpha[sharp], beta[sharp] = _log_space(start, transitions, end, emissions[sharp], mask[sharp])
        end = end.double()
        log_z = torch.logsumexp(alpha[:, -1] + end, dim=1)  # shape: (batch,)
        return Posteriors(alpha, beta, log_z, emissions.double(), transitions.double(), end, mask)


def mean_scores(crfs: Sequence[ConstrainedCRF]) -> Scores:
    """The mean of the CRFs' ``scores``: with the mean of their emissions, the CRF that is their product of experts
    (its path scores the mean of theirs). Their constraints are one scheme's, so forbidden moves stay forbidden."""
    start, transitions, end = zip(*(crf.scores() for crf in crfs))
    return torch.stack(start).mean(dim=0), torch.stack(transitions).mean(dim=0), torch.stack(end).mean(dim=0)


def _scaled(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(scores - peak)`` and ``peak``, the largest score: exponentiated without overflow."""
    peak = scores.max()
    return (scores - peak).exp(), peak


def _keep(vectors: list, sums: list, vector: torch.Tensor, on: torch.Tensor | None) -> None:
    """Append ``vector`` (batch, num_tags) divided by its sum, and the sum (batch, 1); where ``on`` (batch, 1) is
    false, the last vector kept and 1 (``None``: true everywhere)."""
    total = vector.sum(dim=1, keepdim=True)
    if on is None:
        vectors.append(vector / total)
        sums.append(total)
        return
    vectors.append(torch.where(on, vector / total, vectors[-1]) if vectors else vector / total)
    sums.append(torch.where(on, total, 1.0))


def _log_space(
    start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, emissions: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward log-scores (batch, seq_len, num_tags) by float64 logsumexp, steps past a length keeping
    the last: slower than the scaled recursion, but no score of any spread underflows."""
    start, transitions, end, emissions = (scores.double() for scores in (start, transitions, end, emissions))
    alphas = [start + emissions[:, 0]]
    for t in range(1, emissions.shape[1]):
        reached = torch.logsumexp(alphas[-1].unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alphas.append(torch.where(mask[:, t, None], reached, alphas[-1]))
    betas = [end.expand_as(emissions[:, 0])]
    for t in range(emissions.shape[1] - 2, -1, -1):
        ahead = torch.logsumexp(transitions + (emissions[:, t + 1] + betas[-1]).unsqueeze(1), dim=2)
        betas.append(torch.where(mask[:, t + 1, None], ahead, betas[-1]))
    return torch.stack(alphas, dim=1), torch.stack(betas[::-1], dim=1)


def _log_scores(vectors: list, sums: list, factors: torch.Tensor) -> torch.Tensor:
    """Float64 log-scores (batch, steps, num_tags) of normalised ``vectors`` whose steps took out ``sums`` (each
    (batch, 1)) and ``factors`` (batch, steps), the log of what the scores were divided by, accumulated."""
    taken = torch.cat(sums, dim=1).double().log() + factors.double()  # shape: (batch, steps)
    return torch.stack(vectors, dim=1).double().log() + taken.cumsum(dim=1).unsqueeze(2)


class Posteriors:
    """Forward (``alpha``) and backward (``beta``) log-scores of a batch, and what they give."""

    def __init__(self, alpha, beta, log_z, emissions, transitions, end=None, mask=None):
        self.alpha, self.beta, self.log_z = alpha, beta, log_z
        self.emissions, self.transitions = emissions, transitions
        self.end, self.mask = end, mask

    def marginals(self) -> torch.Tensor:
        """P(tag at step t = k), shape (batch, seq_len, num_tags); rows past a length are junk."""
        return (self.alpha + self.beta - self.log_z[:, None, None]).exp()

    def moves(self) -> torch.Tensor:
        """Expected count of each transition over each sequence, shape (batch, num_tags [from], num_tags [to])."""
        ahead = (self.emissions[:, 1:] + self.beta[:, 1:]).unsqueeze(2)  # shape: (batch, seq_len - 1, 1, num_tags)
        scores = self.alpha[:, :-1].unsqueeze(3) + self.transitions + ahead - self.log_z[:, None, None, None]
        taken = self.mask[:, 1:, None, None]
        return torch.where(taken, scores, -math.inf).exp().sum(dim=1)

    def along(self, tags: torch.Tensor, links: tuple[list[int], list[int]] | None = None) -> "PathScores":
        """Scores along decoded ``tags`` (batch, seq_len), for token and span confidences.

        ``links`` (``schemes.chunk_links``) make ``PathScores.span_log_prob`` the probability of
        the entity itself in schemes where the tags over it do not say alone that it is one:
        the token after it must not continue it, the token before it (IOB1) must not run into
        it, and either tag that can begin it (IOB1) counts.
        """
        index = tags.unsqueeze(2)  # shape: (batch, seq_len, 1)
        alpha = self.alpha.gather(2, index).squeeze(2)  # shape: (batch, seq_len)
        beta = self.beta.gather(2, index).squeeze(2)
        emitted = self.emissions.gather(2, index).squeeze(2)
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # shape: (batch, seq_len - 1)
        steps = torch.cat([torch.zeros_like(emitted[:, :1]), moved + emitted[:, 1:]], dim=1)
        tokens = alpha + beta - self.log_z[:, None]
        if links is None:
            return PathScores(tokens, alpha, beta, steps.cumsum(dim=1), self.log_z)
        continues, alternative = (torch.tensor(link, device=tags.device) for link in links)
        other = alternative[tags]  # shape: (batch, seq_len); -1: no other tag begins the chunk
        has_other, other = other >= 0, other.clamp(min=0)
        impossible = torch.full_like(alpha, -math.inf)
        last = torch.zeros_like(emitted[:, :1])
        alternatives = (
            torch.where(has_other, self._opening(other, continues), impossible),
            torch.where(has_other, self._closing(other, continues), impossible),
            torch.cat([moved, last], dim=1),  # the path's step from each token to the next
            torch.cat([self.transitions[other[:, :-1], tags[:, 1:]], last], dim=1),
        )
        opening, closing = self._opening(tags, continues), self._closing(tags, continues)
        return PathScores(tokens, opening, closing, steps.cumsum(dim=1), self.log_z, alternatives)

    def _opening(self, tags: torch.Tensor, continues: torch.Tensor) -> torch.Tensor:
        """Forward scores of ``tags`` (batch, seq_len) at each step, from previous tags that do not run into them."""
        first = self.alpha[:, 0].gather(1, tags[:, :1])  # shape: (batch, 1)
        if tags.shape[1] == 1:
            return first
        incoming = self.transitions.t()[tags[:, 1:]]  # shape: (batch, seq_len - 1, num_tags [previous])
        runs_in = continues[None, None, :] == tags[:, 1:, None]
        scores = (self.alpha[:, :-1] + incoming).masked_fill(runs_in, -math.inf)
        emitted = self.emissions[:, 1:].gather(2, tags[:, 1:, None]).squeeze(2)
        return torch.cat([first, torch.logsumexp(scores, dim=2) + emitted], dim=1)

    def _closing(self, tags: torch.Tensor, continues: torch.Tensor) -> torch.Tensor:
        """Backward scores of ``tags`` (batch, seq_len) at each step, toward next tags that do not continue them."""
        ends = self.end[tags]  # shape: (batch, seq_len): the score of the sentence ending there
        if tags.shape[1] == 1:
            return ends
        outgoing = self.transitions[tags[:, :-1]]  # shape: (batch, seq_len - 1, num_tags [next])
        following = self.emissions[:, 1:] + self.beta[:, 1:]
        number = torch.arange(outgoing.shape[2], device=tags.device)
        continued = number[None, None, :] == continues[tags[:, :-1]][..., None]
        scores = torch.logsumexp((outgoing + following).masked_fill(continued, -math.inf), dim=2)
        return torch.cat([torch.where(self.mask[:, 1:], scores, ends[:, :-1]), ends[:, -1:]], dim=1)


class PathScores:
    """Log-scores along one path per sequence, each of shape (batch, seq_len).

    ``opening`` and ``closing`` are the forward and backward scores of the path's tag at each
    token (with ``links``, counting only tags before that do not run into it and tags after that
    do not continue it); ``alternatives`` those of the other tag that can begin a chunk there,
    with each token's step to the next along the path and from that other tag.
    """

    def __init__(self, tokens, opening, closing, cumulative, log_z, alternatives=None):
        self.tokens = tokens.clamp(max=0.0)  # log P(tag_t = path_t); rounding above 0 cut
        self.opening, self.closing, self.cumulative, self.log_z = opening, closing, cumulative, log_z
        self.alternatives = alternatives

    def span_log_probs(self, spans: Sequence[tuple[int, int, int]]) -> list[float]:
        """log P(an entity of the path's label over exactly tokens ``start:end`` of sequence ``row``), for each
        ``(row, start, end)`` of ``spans``, all in one step (the sums in float64).

        Without ``links`` (IOBES), that is the probability that those tokens carry exactly the
        path's tags, which for IOBES is the same thing; it holds for any tokens of the path. A rounding
        error of the sums above 0 is cut off.
        """
        if not spans:
            return []
        rows, starts, ends = torch.tensor(spans, dtype=torch.long, device=self.tokens.device).unbind(1)
        lasts = ends - 1

        def at(scores: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
            return scores[rows, steps].double()

        inside = at(self.cumulative, lasts) - at(self.cumulative, starts)
        log_z = self.log_z[rows].double()
        if self.alternatives is None:
            scores = at(self.opening, starts) + inside + at(self.closing, lasts) - log_z
            return scores.clamp(max=0.0).tolist()
        other_opening, other_closing, step, other_step = self.alternatives
        opening, other, first_step = at(self.opening, starts), at(other_opening, starts), at(step, starts)
        alone = torch.logaddexp(opening + at(self.closing, starts), other + at(other_closing, starts))
        begun = torch.logaddexp(opening + first_step, other + at(other_step, starts))
        longer = begun + inside - first_step + at(self.closing, lasts)  # from the second token on, as the path goes
        return (torch.where(starts == lasts, alone, longer) - log_z).clamp(max=0.0).tolist()
