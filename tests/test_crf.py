"""The constrained CRF against brute-force enumeration of every tag sequence."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from tagger.crf import ConstrainedCRF
from tagger.schemes import allowed_transitions, chunk_links, is_valid, tags_for, to_spans

TAGS = tags_for(["X", "Y"], "IOBES")  # 9 tags


def _crf(seed: int, constrained: bool = True, scheme: str = "IOBES") -> ConstrainedCRF:
    torch.manual_seed(seed)
    tags = tags_for(["X", "Y"], scheme)
    crf = ConstrainedCRF(len(tags), allowed_transitions(scheme, tags) if constrained else None)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_(0, 1)
    return crf


@torch.no_grad()
def _path_score(crf: ConstrainedCRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    start, transitions, end = crf.scores()
    score = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
    for t in range(1, len(path)):
        score = score + transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    return float(score)


def _valid_paths(length: int, scheme: str = "IOBES"):
    tags = tags_for(["X", "Y"], scheme)
    for path in itertools.product(range(len(tags)), repeat=length):
        if is_valid([tags[i] for i in path], scheme):
            yield path


@pytest.mark.parametrize("sharpness", [1, 40])  # 40: scores too spread for the scaled recursion
@pytest.mark.parametrize("seed", range(3))
def test_decode_and_posteriors_match_enumeration(seed, sharpness):
    crf = _crf(seed)
    lengths = [4, 2, 3]
    emissions = torch.randn(len(lengths), max(lengths), len(TAGS)) * sharpness
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    decoded = crf.decode(emissions, mask)
    posteriors = crf.posteriors(emissions, mask)
    marginals = posteriors.marginals()
    paths = posteriors.along(decoded)
    for row, n in enumerate(lengths):
        scored = {path: _path_score(crf, emissions[row, :n], path) for path in _valid_paths(n)}
        best = max(scored, key=scored.get)
        log_z = scored[best] + math.log(sum(math.exp(s - scored[best]) for s in scored.values()))
        assert tuple(decoded[row, :n].tolist()) == best
        assert decoded[row, n:].eq(0).all()
        assert posteriors.log_z[row].item() == pytest.approx(log_z, abs=1e-4)
        for t in range(n):
            for k in range(len(TAGS)):
                expected = sum(math.exp(s - log_z) for p, s in scored.items() if p[t] == k)
                assert marginals[row, t, k].item() == pytest.approx(expected, abs=1e-5)
        for start in range(n):
            for end in range(start + 1, n + 1):
                segment = best[start:end]
                expected = sum(math.exp(s - log_z) for p, s in scored.items() if p[start:end] == segment)
                assert math.exp(paths.span_log_probs([(row, start, end)])[0]) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("scheme", ["IOBES", "IOB1", "IOB2"])
@pytest.mark.parametrize("seed", range(4))
def test_entity_probabilities_match_enumeration_in_every_scheme(scheme, seed):
    """The score of each entity of a path is the probability, over every tag sequence, that exactly that
    entity is there: its tokens tagged as one chunk of its label, not continued by the token after it
    and (IOB1) not continuing one before it."""
    tags = tags_for(["X", "Y"], scheme)
    crf = _crf(seed, scheme=scheme)
    lengths = [5, 1, 3, 4]
    emissions = torch.randn(len(lengths), max(lengths), len(tags)) * 1.5
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    posteriors = crf.posteriors(emissions, mask)
    rng = random.Random(seed)
    enumerated = {n: list(_valid_paths(n, scheme)) for n in set(lengths)}
    chosen = [crf.decode(emissions, mask)] + [  # the best paths, and valid paths drawn at random
        torch.tensor([list(rng.choice(enumerated[n])) + [0] * (max(lengths) - n) for n in lengths]) for _ in range(6)
    ]
    checked = 0
    for paths in chosen:
        wanted, expected = [], []  # every row's entities, scored in one call
        for row, n in enumerate(lengths):
            scored = {path: _path_score(crf, emissions[row, :n], path) for path in enumerated[n]}
            log_z = math.log(sum(math.exp(s) for s in scored.values()))
            spans = {path: set(to_spans([tags[i] for i in path])) for path in scored}
            for span in to_spans([tags[i] for i in paths[row, :n].tolist()]):
                wanted.append((row, span[0], span[1]))
                expected.append(sum(math.exp(s - log_z) for path, s in scored.items() if span in spans[path]))
        found = posteriors.along(paths, chunk_links(scheme, tags)).span_log_probs(wanted)
        assert [math.exp(log_prob) for log_prob in found] == pytest.approx(expected, abs=1e-6)
        checked += len(wanted)
    assert checked > 20


def test_in_iob2_the_token_after_an_entity_can_take_its_probability():
    """B-X I-X certain, the third token as likely I-X as O: each path's entity is there half the time."""
    tags = tags_for(["X"], "IOB2")  # O, B-X, I-X
    crf = ConstrainedCRF(len(tags), allowed_transitions("IOB2", tags))
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.zero_()
    emissions = torch.tensor([[[-9.0, 9.0, -9.0], [-9.0, -9.0, 9.0], [0.0, -50.0, 0.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    posteriors = crf.posteriors(emissions, mask)
    for third in (0, 2):
        path = torch.tensor([[1, 2, third]])
        scores = posteriors.along(path, chunk_links("IOB2", tags))
        span = to_spans([tags[i] for i in path[0].tolist()])[0]
        assert math.exp(scores.span_log_probs([(0, span[0], span[1])])[0]) == pytest.approx(0.5, abs=1e-3)
        assert math.exp(posteriors.along(path).span_log_probs([(0, 0, 2)])[0]) == pytest.approx(1.0, abs=1e-3)


def test_decoding_never_emits_an_invalid_sequence():
    crf = _crf(7)
    emissions = torch.randn(64, 12, len(TAGS)) * 5
    mask = torch.ones(64, 12, dtype=torch.bool)
    for row in crf.decode(emissions, mask).tolist():
        assert is_valid([TAGS[i] for i in row], "IOBES")


def test_unconstrained_normaliser_agrees_with_torchcrf():
    crf = _crf(3, constrained=False)
    emissions = torch.randn(3, 5, len(TAGS))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    tags = torch.randint(len(TAGS), (3, 5))
    log_likelihood = crf.crf(emissions, tags, mask=mask, reduction="none")
    gold = torch.tensor(
        [
            _path_score(crf, emissions[i, : int(m.sum())], tuple(tags[i, : int(m.sum())].tolist()))
            for i, m in enumerate(mask)
        ]
    )
    assert torch.allclose(gold - log_likelihood, crf.posteriors(emissions, mask).log_z.float(), atol=1e-4)


def test_constraints_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="constraints for 3 tags"):
        ConstrainedCRF(3, ([True] * 2, [[True] * 2] * 2, [True] * 2))


def test_the_negative_log_likelihood_has_the_right_gradients_in_float64():
    """gradcheck: the analytic gradients of the NLL (emissions and all three score tables) match finite differences."""
    crf = _crf(7).double()
    names = [name for name, _ in crf.named_parameters()]
    generator = torch.Generator().manual_seed(7)
    emissions = torch.randn(2, 4, len(TAGS), dtype=torch.float64, generator=generator, requires_grad=True)
    tags = torch.tensor([[1, 2, 3, 0], [5, 0, 0, 0]])  # valid IOBES paths, the second of length 2
    mask = torch.tensor([[True] * 4, [True, True, False, False]])

    def nll(emissions, *parameters):
        return torch.func.functional_call(crf, dict(zip(names, parameters)), (emissions, tags, mask))

    crf.forward = crf.nll  # functional_call calls forward
    parameters = [p.detach().clone().requires_grad_() for p in crf.parameters()]
    assert torch.autograd.gradcheck(nll, (emissions, *parameters))


@pytest.mark.parametrize("scheme", ["IOB2", "IOBES"])
def test_a_near_certain_path_scores_no_probability_above_one(scheme):
    tags = tags_for(["X", "Y"], scheme)
    crf = _crf(0, scheme=scheme)
    torch.manual_seed(1)
    emissions = torch.randn(64, 40, len(tags)) * 30  # sharp: float32 rounding lands on both sides of log 1
    mask = torch.ones(64, 40, dtype=torch.bool)
    paths = crf.decode(emissions, mask)
    scores = crf.posteriors(emissions, mask).along(paths, chunk_links(scheme, tags))
    assert scores.tokens.max() <= 0.0
    spans = [(row, s, e) for row in range(64) for s, e, _ in to_spans([tags[i] for i in paths[row].tolist()])]
    assert max(scores.span_log_probs(spans)) <= 0.0
