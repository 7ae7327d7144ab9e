"""Spec -> operators: every GEMM (M, K, N, count) and vector op (elements, kind) of one inference.

The result is columnar (`Workload`: numpy arrays, one entry per operator) so the hardware cost model can
broadcast it against thousands of configs. Conventions: a GEMM is (M x K) @ (K x N); `count` repeats it with
distinct operands (e.g. once per layer, or per layer x batch x KV head); `b_from_dram` marks a B operand that
lives in DRAM (weights, KV cache) rather than on chip (attention operands produced by the previous GEMM);
`extra_dram_words` is other DRAM traffic per instance (embedding rows, input image, KV-cache writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from catransformers.errors import UserError
from catransformers.models.spec import EncoderSpec, ModelSpec
from catransformers.strict import StrictModel

# Breakdown groups of the `estimate` output (issue 2): per encoder.
COMPONENTS = {
    "attn_proj": "attn GEMMs Q/K/V/O",
    "attn_score": "attn scores+softmax",
    "ffn": "FFN GEMMs",
    "vector": "norms+other vector",
    "embed": "embed/projections",
}


class WorkloadOptions(StrictModel):
    """What one inference is: batch size and sequence lengths (None = the spec's default)."""

    batch: int = Field(1, gt=0)
    tokens: int | None = Field(None, gt=0, description="text/encoder tokens (CLIP text: 77)")
    image_size: int | None = Field(None, gt=0, description="vision input pixels per side (224)")
    prefill_tokens: int | None = Field(None, gt=0, description="causal LMs: prompt tokens (spec seq_len)")
    decode_tokens: int = Field(0, ge=0, description="causal LMs: generated tokens after the prefill")


@dataclass
class _Builder:
    rows: list[tuple] = field(default_factory=list)

    def gemm(self, enc: str, comp: str, name: str, m: int, k: int, n: int, count: int, b_dram: bool,
             extra_words: float = 0.0) -> None:
        if count > 0 and m > 0 and k > 0 and n > 0:
            self.rows.append((enc, comp, name, True, m, k, n, count, 0.0, "", b_dram, extra_words))

    def vector(self, enc: str, comp: str, name: str, kind: str, elements: float, count: int = 1,
               extra_words: float = 0.0) -> None:
        if count > 0 and (elements > 0 or extra_words > 0):
            self.rows.append((enc, comp, name, False, 0, 0, 0, count, float(elements), kind, False, extra_words))


@dataclass(frozen=True)
class Workload:
    """Columnar operator table of one inference (see module doc for the conventions)."""

    model_id: str
    encoder: np.ndarray  # str
    component: np.ndarray  # str, a key of COMPONENTS
    name: np.ndarray  # str
    is_gemm: np.ndarray  # bool
    m: np.ndarray  # float, GEMM rows (0 for vector ops)
    k: np.ndarray
    n: np.ndarray
    count: np.ndarray  # float, repeats with distinct operands
    elements: np.ndarray  # float, vector-op elements per instance
    vec_kind: np.ndarray  # str, vector-op kind ('' for GEMMs); the estimator reads its cost from Tech
    b_from_dram: np.ndarray  # bool
    extra_dram_words: np.ndarray  # float per instance

    def __len__(self) -> int:
        return len(self.m)

    @property
    def macs(self) -> np.ndarray:
        """MACs per operator row (all repeats)."""
        return self.m * self.k * self.n * self.count

    def total_macs(self, encoder: str | None = None) -> float:
        sel = np.ones(len(self), bool) if encoder is None else self.encoder == encoder
        return float(self.macs[sel].sum())

    def table(self):
        """A pandas DataFrame of the operators (for inspection and tests)."""
        import pandas as pd

        return pd.DataFrame({
            "encoder": self.encoder, "component": self.component, "name": self.name, "is_gemm": self.is_gemm,
            "m": self.m, "k": self.k, "n": self.n, "count": self.count, "elements": self.elements,
            "macs": self.macs, "vec_kind": self.vec_kind, "b_from_dram": self.b_from_dram,
            "extra_dram_words": self.extra_dram_words,
        })


def _layer_ops(b: _Builder, enc: EncoderSpec, e: str, batch: int, t: int, ctx: int, layers: int,
               kv_from_dram: bool, kv_write: bool) -> None:
    """One Transformer layer x `layers`, for `t` query tokens attending over `ctx` keys per sequence."""
    h, a, kv, f, hd = enc.hidden, enc.attn_dim, enc.kv_dim, enc.ffn, enc.head_dim
    g, bt = enc.group_size, batch * t
    kv_words = 2 * bt * kv if kv_write else 0  # K and V rows appended to the DRAM KV cache
    b.vector(e, "vector", "norm_attn", enc.norm, bt * h, layers)
    b.gemm(e, "attn_proj", "q_proj", bt, h, a, layers, True)
    b.gemm(e, "attn_proj", "k_proj", bt, h, kv, layers, True, extra_words=kv_words)
    b.gemm(e, "attn_proj", "v_proj", bt, h, kv, layers, True)
    if enc.norm == "rmsnorm":  # Llama family: rotary position embedding on Q and K
        b.vector(e, "vector", "rope", "rope", bt * (a + kv), layers)
    # Per KV head, the g query heads sharing it form the rows of one batched GEMM (GQA; g = 1 for MHA).
    reps = layers * batch * enc.kv_heads
    b.gemm(e, "attn_score", "qk_scores", g * t, hd, ctx, reps, kv_from_dram)
    b.vector(e, "attn_score", "score_scale", "scale", batch * enc.heads * t * ctx, layers)
    b.vector(e, "attn_score", "softmax", "softmax", batch * enc.heads * t * ctx, layers)
    b.gemm(e, "attn_score", "attn_v", g * t, ctx, hd, reps, kv_from_dram)
    b.gemm(e, "attn_proj", "o_proj", bt, a, h, layers, True)
    b.vector(e, "vector", "residual_attn", "add", bt * h, layers)
    b.vector(e, "vector", "norm_ffn", enc.norm, bt * h, layers)
    b.gemm(e, "ffn", "ffn_up", bt, h, f, layers, True)
    if enc.gated_ffn:
        b.gemm(e, "ffn", "ffn_gate", bt, h, f, layers, True)
        b.vector(e, "vector", "ffn_gate_mul", "mul", bt * f, layers)
    b.vector(e, "vector", "ffn_act", enc.activation, bt * f, layers)
    b.gemm(e, "ffn", "ffn_down", bt, f, h, layers, True)
    b.vector(e, "vector", "residual_ffn", "add", bt * h, layers)


def _tokens(enc: EncoderSpec, opts: WorkloadOptions, spec: ModelSpec) -> int:
    t = opts.tokens or enc.seq_len
    if spec.family == "clip" and enc.max_positions and t > enc.max_positions:
        raise UserError(f"--tokens {t}: CLIP text takes at most {enc.max_positions} tokens")
    return t


def _vision(b: _Builder, spec: ModelSpec, enc: EncoderSpec, opts: WorkloadOptions) -> None:
    e, batch, h = enc.name, opts.batch, enc.hidden
    image = opts.image_size or enc.image_size
    if image < enc.patch_size:
        raise UserError(f"--image-size {image}: smaller than the patch size {enc.patch_size}")
    patches = (image // enc.patch_size) ** 2
    t = patches + 1  # + class token
    pixels = enc.channels * image * image
    b.gemm(e, "embed", "patch_embed", batch * patches, enc.channels * enc.patch_size**2, h, 1, True,
           extra_words=batch * pixels)  # the input image is read from DRAM
    b.vector(e, "embed", "pos_embed_add", "add", batch * t * h, extra_words=t * h)  # position table from DRAM
    if spec.family == "clip":
        b.vector(e, "vector", "ln_pre", "layernorm", batch * t * h)
    _layer_ops(b, enc, e, batch, t, t, enc.layers, False, False)
    if spec.family == "clip":
        b.vector(e, "vector", "ln_post", "layernorm", batch * h)  # on the pooled class token
        b.gemm(e, "embed", "visual_projection", batch, h, spec.projection_dim, 1, True)
        b.vector(e, "vector", "l2_normalize", "l2norm", batch * spec.projection_dim)
    else:
        b.vector(e, "vector", "final_norm", "layernorm", batch * t * h)
    if spec.num_labels:
        b.gemm(e, "embed", "classifier", batch, h, spec.num_labels, 1, True)


def _text(b: _Builder, spec: ModelSpec, enc: EncoderSpec, opts: WorkloadOptions) -> None:
    e, batch, h = enc.name, opts.batch, enc.hidden
    t = _tokens(enc, opts, spec)
    b.vector(e, "embed", "token_embed", "copy", batch * t * h, extra_words=batch * t * h)
    if enc.max_positions:
        b.vector(e, "embed", "pos_embed_add", "add", batch * t * h, extra_words=t * h)
    if spec.family in ("bert", "mpnet"):
        b.vector(e, "vector", "embed_norm", "layernorm", batch * t * h)
    _layer_ops(b, enc, e, batch, t, t, enc.layers, False, False)
    if spec.family == "clip":
        b.vector(e, "vector", "final_norm", "layernorm", batch * t * h)
        b.gemm(e, "embed", "text_projection", batch, h, spec.projection_dim, 1, True)  # pooled EOS token
        b.vector(e, "vector", "l2_normalize", "l2norm", batch * spec.projection_dim)
    if spec.has_pooler:
        b.gemm(e, "embed", "pooler", batch, h, h, 1, True)
        b.vector(e, "vector", "pooler_act", "tanh", batch * h)
    if spec.num_labels:
        b.gemm(e, "embed", "classifier", batch, h, spec.num_labels, 1, True)


def _decoder(b: _Builder, spec: ModelSpec, enc: EncoderSpec, opts: WorkloadOptions) -> None:
    """Prefill of P tokens (K/V written to the DRAM cache), then D single-token steps reading the cache."""
    e, batch, h = enc.name, opts.batch, enc.hidden
    p, d = opts.prefill_tokens or enc.seq_len, opts.decode_tokens
    vocab = enc.vocab_size
    b.vector(e, "embed", "token_embed", "copy", batch * (p + d) * h, extra_words=batch * (p + d) * h)
    _layer_ops(b, enc, e, batch, p, p, enc.layers, False, True)
    b.vector(e, "vector", "final_norm", enc.norm, batch * (p + d) * h)
    b.gemm(e, "embed", "lm_head", batch, h, vocab, 1 + d, True)  # logits of the last prompt token, then each step
    if d == 0:
        return
    hd, g, kvh = enc.head_dim, enc.group_size, enc.kv_heads
    # Decode: the same-shaped GEMMs of all steps merge (count layers x d); attention differs per context length.
    step = _Builder()
    _layer_ops(step, enc, e, batch, 1, p + 1, enc.layers * d, True, True)
    for row in step.rows:
        name = row[2]
        if name in ("qk_scores", "attn_v"):
            continue
        if name in ("score_scale", "softmax"):  # elements summed over all context lengths
            ctx_total = d * p + d * (d + 1) // 2
            row = (*row[:8], float(batch * enc.heads * ctx_total * enc.layers), *row[9:])
            row = (*row[:7], 1, *row[8:])
        b.rows.append((row[0], row[1], "decode_" + name, *row[3:]))
    reps = enc.layers * batch * kvh
    for s in range(d):
        ctx = p + s + 1
        b.gemm(e, "attn_score", "decode_qk_scores", g, hd, ctx, reps, True)
        b.gemm(e, "attn_score", "decode_attn_v", g, ctx, hd, reps, True)


def build_workload(spec: ModelSpec, options: WorkloadOptions | None = None) -> Workload:
    """All operators of one inference of `spec` (both encoders for CLIP)."""
    opts = options or WorkloadOptions()
    b = _Builder()
    for enc in spec.encoders:
        if enc.kind == "vision":
            _vision(b, spec, enc, opts)
        elif enc.causal:
            _decoder(b, spec, enc, opts)
        else:
            _text(b, spec, enc, opts)
    cols = list(zip(*b.rows, strict=True))
    f64 = lambda i: np.asarray(cols[i], dtype=float)  # noqa: E731
    return Workload(
        model_id=spec.id, encoder=np.asarray(cols[0]), component=np.asarray(cols[1]), name=np.asarray(cols[2]),
        is_gemm=np.asarray(cols[3], dtype=bool), m=f64(4), k=f64(5), n=f64(6), count=f64(7), elements=f64(8),
        vec_kind=np.asarray(cols[9], dtype=str), b_from_dram=np.asarray(cols[10], dtype=bool), extra_dram_words=f64(11),
    )
