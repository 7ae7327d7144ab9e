"""Architecture specs: the dimensions of a Transformer that the cost model and the pruner need.

A `ModelSpec` holds one or more `EncoderSpec`s (CLIP: ``text`` and ``vision``; others: ``main``).
Attention width is ``heads * head_dim`` and is kept separate from ``hidden``: structured pruning
removes heads (keeping the head size) independently of hidden channels, so the two decouple.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

EncoderKind = Literal["text", "vision", "decoder"]
Activation = Literal["gelu", "quick_gelu", "silu", "relu"]
NormKind = Literal["layernorm", "rmsnorm"]
Family = Literal["clip", "bert", "vit", "llama", "mpnet"]


@dataclass(frozen=True)
class EncoderSpec:
    """One Transformer stack (an encoder, or a decoder for causal LMs)."""

    name: str  # "text", "vision" (CLIP) or "main"
    kind: EncoderKind
    layers: int
    hidden: int
    ffn: int  # FFN inner width (per projection for gated FFNs)
    heads: int  # query heads
    head_dim: int  # kept under pruning
    kv_heads: int  # == heads unless grouped-query attention
    seq_len: int  # default tokens per inference (vision: patches + class token)
    activation: Activation = "gelu"
    gated_ffn: bool = False  # SwiGLU: up, gate and down projections
    norm: NormKind = "layernorm"
    vocab_size: int | None = None  # token embedding rows (text / decoder)
    max_positions: int | None = None  # learned position table rows, None for rotary
    image_size: int | None = None  # vision only
    patch_size: int | None = None  # vision only
    channels: int = 3  # vision only
    causal: bool = False

    @property
    def attn_dim(self) -> int:
        """Width of the concatenated query heads (Q projection output)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the K (and V) projection output."""
        return self.kv_heads * self.head_dim

    @property
    def group_size(self) -> int:
        """Query heads per KV head (1 for multi-head attention)."""
        return self.heads // self.kv_heads

    def layer_params(self) -> int:
        """Parameters of one Transformer layer (weights and biases as the family has them)."""
        h, a, kv, f = self.hidden, self.attn_dim, self.kv_dim, self.ffn
        bias = self.norm == "layernorm"  # BERT/CLIP/ViT linear layers carry biases, Llama's do not
        attn = h * a + 2 * h * kv + a * h + ((a + 2 * kv + h) if bias else 0)
        n_ffn_in = 2 if self.gated_ffn else 1
        ffn = n_ffn_in * h * f + f * h + ((f * n_ffn_in + h) if bias else 0)
        norms = 2 * (2 * h if self.norm == "layernorm" else h)
        return attn + ffn + norms


@dataclass(frozen=True)
class ModelSpec:
    """A model: its encoders plus what joins them (CLIP projection, classifier head)."""

    id: str
    family: Family
    encoders: tuple[EncoderSpec, ...]
    source: str  # where the dimensions come from (paper, model card, config file)
    hf_id: str | None = None  # Hugging Face id of the real weights, where they exist
    projection_dim: int | None = None  # CLIP joint embedding width
    num_labels: int | None = None  # classifier head, if any
    tie_word_embeddings: bool = False  # causal LMs that reuse the token table as LM head
    has_pooler: bool = False  # BERT-style pooler (dense + tanh on the first token)
    block_counts: dict[str, int] = field(default_factory=dict)  # pruning granularity per encoder

    def encoder(self, name: str) -> EncoderSpec:
        for enc in self.encoders:
            if enc.name == name:
                return enc
        raise KeyError(name)

    @property
    def encoder_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.encoders)

    def with_encoders(self, encoders: tuple[EncoderSpec, ...], id: str | None = None) -> ModelSpec:
        return replace(self, encoders=encoders, id=id or self.id)

    def to_dict(self) -> dict:
        return asdict(self)
