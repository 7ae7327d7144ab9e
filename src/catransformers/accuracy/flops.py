"""Forward FLOPs per inference implied by a ModelSpec (2 FLOPs per multiply-accumulate, GEMMs only).

Used for the healing budget (FLOP ratio unpruned / pruned) and reported with each accuracy result. Per layer:
Q/K/V/O projections, the two attention matmuls (QK^T and AV over ``seq_len`` tokens) and the FFN (two or, gated,
three projections); plus the patch embedding (vision), the LM head (causal LMs), the CLIP projections and a
classifier head. Norms, softmax and activations are left out (they are not GEMMs and are < 1% here).
"""

from __future__ import annotations

from catransformers.models import EncoderSpec, ModelSpec

FLOPS_PER_MAC = 2


def encoder_macs(spec: ModelSpec, enc: EncoderSpec) -> int:
    s, h, a, kv, f = enc.seq_len, enc.hidden, enc.attn_dim, enc.kv_dim, enc.ffn
    proj = s * (h * a + 2 * h * kv + a * h)
    attn = 2 * s * s * a  # scores (s x s per head over head_dim) and the weighted sum of values
    ffn = s * ((3 if enc.gated_ffn else 2) * h * f)
    macs = enc.layers * (proj + attn + ffn)
    if enc.kind == "vision":
        macs += (s - 1) * enc.channels * enc.patch_size**2 * h  # patch embedding conv
    if enc.kind == "decoder":
        macs += s * h * (enc.vocab_size or 0)  # LM head
    if spec.family == "clip":
        macs += h * (spec.projection_dim or 0)  # projection of the pooled token
    return macs


def forward_flops(spec: ModelSpec) -> float:
    """Forward FLOPs of one inference (each encoder at its spec ``seq_len``)."""
    macs = sum(encoder_macs(spec, e) for e in spec.encoders)
    if spec.num_labels:
        macs += spec.encoders[0].hidden * spec.num_labels
    return float(FLOPS_PER_MAC * macs)
