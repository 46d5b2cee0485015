"""The BiLSTM-CRF: word, character, casing and character-LM features → BiLSTM → one projection and CRF per head;
and an ensemble of them that tags as one."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .bilstm import BiLSTM
from .charlm import CharLMFeatures
from .crf import ConstrainedCRF, Posteriors, Scores, mean_scores
from .dropout import Dropout, TokenDropout
from .embeddings import FixedTailEmbedding, char_encoder, word_embedding
from .initialisation import initialise

if TYPE_CHECKING:
    from .batching import TokenTable

PART_MODULES = {"embeddings": ("words", "casing"), "chars": ("chars",), "encoder": ("encoder",)}
Constraints = tuple[list, list, list]  # allowed starts, transitions and ends (schemes.allowed_transitions)
SHARED_LM_COPY = re.compile(r"members\.[1-9][0-9]*\.char_lm\.")  # an ensemble member's name for the shared LM


class TagHead(nn.Module):
    """The projection (encoder states → tag scores) and the CRF of one tag set."""

    def __init__(self, input_dim: int, num_tags: int, constraints: Constraints):
        super().__init__()
        self.project = nn.Linear(input_dim, num_tags)
        self.crf = ConstrainedCRF(num_tags, constraints)


class BiLSTMCRF(nn.Module):
    """Tensors in, emissions, losses and tag ids out; knows nothing of text or files.

    One shared encoder (word, character, casing and character-LM features and the BiLSTM) feeds
    ``heads``, one ``TagHead`` per ``(num_tags, constraints)`` given, addressed by their index.
    """

    def __init__(
        self,
        num_words: int,
        num_chars: int,
        num_casings: int,
        heads: Sequence[tuple[int, Constraints]],
        *,
        word_dim: int,
        char_encoder_kind: str,
        char_dim: int,
        char_hidden: int,
        char_kernel: int,
        casing_dim: int,
        hidden: int,
        layers: int,
        dropout: float,
        locked_dropout: bool = False,
        word_dropout: float = 0.0,
        frozen_words: int = 0,
        lm_chars: int = 0,
        lm_dim: int = 0,
        lm_hidden: int = 0,
        lm_layers: int = 1,
        lm_finetune: bool = False,
        lm_projection: int = 0,
    ):
        """``lm_hidden`` > 0 adds the states of a forward and a backward character LM (``CharLMFeatures``) over
        ``lm_chars`` characters to each token's features; ``lm_projection`` > 0 maps them linearly to that many
        first, so that the encoder's gates read fewer at every token."""
        super().__init__()
        self.words = word_embedding(num_words, word_dim, frozen_words)  # the last frozen_words rows stay fixed
        self.chars = char_encoder(char_encoder_kind, num_chars, char_dim, char_hidden, char_kernel)
        self.casing = nn.Embedding(num_casings, casing_dim, padding_idx=0) if casing_dim else None
        self.char_lm = CharLMFeatures(lm_chars, lm_dim, lm_hidden, lm_layers, lm_finetune) if lm_hidden else None
        input_dim = word_dim + (self.chars.output_dim if self.chars else 0) + casing_dim
        self.lm_projection = nn.Linear(self.char_lm.output_dim, lm_projection) if lm_hidden and lm_projection else None
        input_dim += (lm_projection or self.char_lm.output_dim) if self.char_lm else 0
        self.dropout = Dropout(dropout, locked_dropout)
        self.word_dropout = TokenDropout(word_dropout)
        self.encoder = BiLSTM(input_dim, hidden, layers, dropout, locked_dropout)
        self.heads = nn.ModuleList(TagHead(self.encoder.output_dim, n, constraints) for n, constraints in heads)

    def initialise(self, scheme: str, scale: float = 0.05, forget_bias: float = 0.0) -> None:
        """Redraw weight matrices (the CRFs' and character LM's aside) by ``scheme``, set LSTM forget-gate biases
        (``initialisation``)."""
        crfs = tuple(f"heads.{i}.crf." for i in range(len(self.heads)))
        initialise(self, scheme, scale, forget_bias, skip=(*crfs, "char_lm."))

    def use_pretrained(self, vectors: torch.Tensor) -> None:
        """Set the last rows of the word table to ``vectors`` (pretrained, n × word_dim).

        The other rows (padding aside) are redrawn from a normal distribution with the
        vectors' standard deviation, so that all words start at the same scale.
        """
        if not len(vectors):
            return
        with torch.no_grad():
            if isinstance(self.words, FixedTailEmbedding):
                self.words.fixed.copy_(vectors)
                learned = self.words.learned.weight
            else:
                self.words.weight[-len(vectors) :] = vectors
                learned = self.words.weight[: -len(vectors)]
            learned[1:].normal_(0.0, float(vectors.std()))

    def part_parameters(self, parts: Iterable[str]) -> list[nn.Parameter]:
        """The parameters of the named parts (``PART_MODULES``: embeddings, chars, encoder)."""
        modules = [getattr(self, name) for part in parts for name in PART_MODULES[part]]
        return [parameter for module in modules if module is not None for parameter in module.parameters()]

    @property
    def members(self) -> tuple[BiLSTMCRF, ...]:
        """The models that each train on batches of their own: this one alone (an ``Ensemble`` has several)."""
        return (self,)

    def table_features(self, table: TokenTable) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """What ``states`` reads of ``table``'s tokens in every batch, computed once: at inference (where the encoder
        ``reads_gates``), the encoder's input gates of each token's word, character and casing features (the
        ``TokenTable.gates``); else the character encoder's output for each (``TokenTable.features``), if any."""
        chars = self.chars(table.chars, table.lengths) if self.chars is not None else None
        if not self.encoder.reads_gates():
            return chars, None
        return None, self.encoder.row_gates(torch.cat(self._token_features(table.words, chars, table.casing), dim=-1))

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """The parameters whose gradient is clipped as one: all of them."""
        return [list(self.parameters())]

    def head_emissions(self, batch, heads: Sequence[int] = (0,)) -> list[torch.Tensor]:
        """Tag scores per token (batch, seq_len, num_tags) of each head of ``heads``, the encoder run once. Read
        from the table's gates (inference, ``batch.row_gates``), only the tokens' states are projected, not
        padding's."""
        if batch.row_gates is None:
            states = self.states(batch)
            return [self.heads[index].project(states) for index in heads]
        reading = self.encoder.from_gates(batch.row_gates, batch.token_index, batch.mask, self._lm_features(batch))
        return [reading.through(self.heads[index].project) for index in heads]

    def states(self, batch) -> torch.Tensor:
        """The shared encoder's output per token, dropout applied, shape (batch, seq_len, encoder.output_dim)."""
        chars = None
        if self.chars is not None:
            per_token = batch.char_features  # shape: (distinct_tokens, char_out)
            if per_token is None:
                per_token = self.chars(batch.chars, batch.char_lengths)
            chars = F.embedding(batch.token_index, per_token)  # a lookup whose backward sums in a fixed order
        lm = self._lm_features(batch)
        features = self._token_features(batch.words, chars, batch.casing) + ([lm] if lm is not None else [])
        inputs = self.word_dropout(self.dropout(torch.cat(features, dim=-1)))
        return self.dropout(self.encoder(inputs, batch.mask))

    def _lm_features(self, batch) -> torch.Tensor | None:
        """The character LM's features of each token (batch, seq_len, features), projected if the model projects
        them; none without an LM."""
        if self.char_lm is None:
            return None
        features = batch.lm_features
        if features is None:
            features = self.char_lm(batch.lm_chars, batch.lm_lengths, batch.lm_starts, batch.lm_ends)
        return features if self.lm_projection is None else self.lm_projection(features)

    def _token_features(
        self, words: torch.Tensor, chars: torch.Tensor | None, casing: torch.Tensor
    ) -> list[torch.Tensor]:
        """The word, character and casing features of tokens whose word and casing ids are ``words`` and
        ``casing`` (any shape) and whose character features are ``chars`` (that shape, char_out), in input order."""
        features = [self.words(words)]
        if chars is not None:
            features.append(chars)
        if self.casing is not None:
            features.append(self.casing(casing))
        return features

    def emissions(self, batch, head: int = 0) -> torch.Tensor:
        """Tag scores per token of head ``head``, shape (batch, seq_len, num_tags)."""
        return self.head_emissions(batch, [head])[0]

    def loss(self, batch, head: int = 0) -> torch.Tensor:
        """Negative log-likelihood of the gold tags (ids of head ``head``'s tags), summed over the batch."""
        return self.heads[head].crf.nll(self.emissions(batch, head), batch.tags, batch.mask)

    def soft_loss(self, batch, marginals: torch.Tensor, moves: torch.Tensor, head: int = 0) -> torch.Tensor:
        """Cross-entropy against a teacher's posteriors (``ConstrainedCRF.soft_nll``), summed over the batch."""
        return self.heads[head].crf.soft_nll(self.emissions(batch, head), batch.mask, marginals, moves)

    def decode(
        self, batch, with_posteriors: bool = False, heads: Sequence[int] = (0,)
    ) -> list[tuple[torch.Tensor, Posteriors | None]]:
        """Per head of ``heads``: best valid tag ids (batch, seq_len) and, if asked, the posteriors behind them.

        The encoder runs once for all of them.
        """
        found = self.head_emissions(batch, heads)
        return [
            decoded(self.heads[index].crf, emissions, batch.mask, with_posteriors)
            for index, emissions in zip(heads, found)
        ]


class Ensemble(nn.Module):
    """BiLSTM-CRFs of one architecture over the same vocabularies and heads, trained side by side, each on batches
    of its own from its own initial weights (``Trainer.step``), that tag as one: with the mean of their emissions
    and of their CRFs' scores, a CRF whose path scores are the mean of theirs (a product of experts), decoded
    exactly."""

    def __init__(self, members: Sequence[BiLSTMCRF]):
        """The members' character LM, if they have one, becomes the first's, read once for all of them: a frozen LM
        (``TaggerConfig`` refuses a fine-tuned one in an ensemble), so it is the same for each."""
        super().__init__()
        self.members = nn.ModuleList(members)
        for member in members[1:]:
            member.char_lm = members[0].char_lm

    @property
    def char_lm(self) -> CharLMFeatures | None:
        """The character LM the members share, or ``None``."""
        return self.members[0].char_lm

    @staticmethod
    def saved(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A state dict's ``weights`` with the shared character LM's once, as the first member's."""
        return {name: tensor for name, tensor in weights.items() if not SHARED_LM_COPY.match(name)}

    @staticmethod
    def loadable(weights: dict[str, torch.Tensor], members: int) -> dict[str, torch.Tensor]:
        """``saved`` weights as ``load_state_dict`` takes them: the first member's character LM under each
        member's name too (where a member's own is not given)."""
        prefix = "members.0.char_lm."
        shared = {name[len(prefix) :]: tensor for name, tensor in weights.items() if name.startswith(prefix)}
        copies = {f"members.{n}.char_lm.{name}": tensor for n in range(1, members) for name, tensor in shared.items()}
        return {**copies, **weights}

    def initialise(self, scheme: str, scale: float = 0.05, forget_bias: float = 0.0) -> None:
        """Each member's ``BiLSTMCRF.initialise``, drawing its own weights."""
        for member in self.members:
            member.initialise(scheme, scale, forget_bias)

    def use_pretrained(self, vectors: torch.Tensor) -> None:
        """Each member's ``BiLSTMCRF.use_pretrained``: the same vectors, its own draws for the other rows."""
        for member in self.members:
            member.use_pretrained(vectors)

    def part_parameters(self, parts: Iterable[str]) -> list[nn.Parameter]:
        return [parameter for member in self.members for parameter in member.part_parameters(parts)]

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """The parameters whose gradient is clipped as one: each member's, so that it trains as it would alone."""
        return [list(member.parameters()) for member in self.members]

    def table_features(self, table: TokenTable) -> tuple[list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """Each member's ``BiLSTMCRF.table_features``, listed by member (not stacked: a copy the size of all the
        members' gates); ``None`` where theirs are."""
        found = [member.table_features(table) for member in self.members]
        return tuple(None if parts[0] is None else list(parts) for parts in zip(*found))

    def decode(
        self, batch, with_posteriors: bool = False, heads: Sequence[int] = (0,)
    ) -> list[tuple[torch.Tensor, Posteriors | None]]:
        """As ``BiLSTMCRF.decode``, by the members together; each member's encoder runs once for all heads."""
        by_member = [
            member.head_emissions(self._members_batch(batch, number), heads)
            for number, member in enumerate(self.members)
        ]
        found = []
        for place, index in enumerate(heads):
            emissions = torch.stack([own[place] for own in by_member]).mean(dim=0)
            crfs = [member.heads[index].crf for member in self.members]
            found.append(decoded(crfs[0], emissions, batch.mask, with_posteriors, mean_scores(crfs)))
        return found

    @staticmethod
    def _members_batch(batch, number: int):
        """``batch`` with member ``number``'s table features (``table_features``), where they were computed."""
        own = {name: getattr(batch, name) for name in ("char_features", "row_gates")}
        return replace(batch, **{name: found[number] for name, found in own.items() if found is not None})


def decoded(
    crf: ConstrainedCRF,
    emissions: torch.Tensor,
    mask: torch.Tensor,
    with_posteriors: bool,
    scores: Scores | None = None,
) -> tuple[torch.Tensor, Posteriors | None]:
    """The best valid tag ids of ``emissions`` by ``crf`` (or by ``scores``, see ``ConstrainedCRF.decode``) and, if
    asked, the posteriors behind them."""
    tags = crf.decode(emissions, mask, scores)
    return tags, crf.posteriors(emissions, mask, scores) if with_posteriors else None
