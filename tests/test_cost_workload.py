"""Operator counts: hand-counted MACs of CLIP ViT-B/16, GQA widths, decode steps, pruning."""

from __future__ import annotations

import numpy as np
import pytest

from catransformers.errors import UserError
from catransformers.models import default_space, get_model, parse_prune, prune_spec
from catransformers.workload import WorkloadOptions, build_workload


def test_clip_vit_b16_macs_by_hand() -> None:
    w = build_workload(get_model("clip-vit-b-16"))
    # text: 12 layers x (Q,K,V,O 4*T*h^2 + FFN 2*T*h*f + QK^T and AV 2*T^2*h) + projection of the EOS token
    t, h, f = 77, 512, 2048
    text = 12 * (4 * t * h * h + 2 * t * h * f + 2 * t * t * h) + h * 512
    # vision: 197 tokens, patch embedding 196 x (3*16*16) x 768, projection of the class token
    t, h, f = 197, 768, 3072
    vision = 12 * (4 * t * h * h + 2 * t * h * f + 2 * t * t * h) + 196 * 768 * 768 + h * 512
    assert w.total_macs("text") == text
    assert w.total_macs("vision") == vision
    assert w.total_macs("text") / 1e9 == pytest.approx(2.98, abs=0.005)
    assert w.total_macs("vision") / 1e9 == pytest.approx(17.56, abs=0.005)


def test_batch_and_tokens_scale_projection_macs() -> None:
    spec = get_model("clip-vit-b-16")
    one = build_workload(spec).table()
    four = build_workload(spec, WorkloadOptions(batch=4)).table()
    q1 = one[(one.encoder == "vision") & (one.name == "q_proj")].macs.item()
    q4 = four[(four.encoder == "vision") & (four.name == "q_proj")].macs.item()
    assert q4 == 4 * q1
    short = build_workload(spec, WorkloadOptions(tokens=20)).table()
    assert short[(short.encoder == "text") & (short.name == "ffn_up")].m.item() == 20
    small = build_workload(spec, WorkloadOptions(image_size=112)).table()
    assert small[(small.encoder == "vision") & (small.name == "qk_scores")].n.item() == 50  # 7*7 + 1
    with pytest.raises(UserError):
        build_workload(spec, WorkloadOptions(tokens=100))


def test_gqa_kv_width_and_attention_batched_per_kv_head() -> None:
    spec = get_model("llama-3-8b")
    w = build_workload(spec, WorkloadOptions(prefill_tokens=64)).table()
    k = w[w.name == "k_proj"].iloc[0]
    assert (k.m, k.k, k.n) == (64, 4096, 8 * 128)
    qk = w[w.name == "qk_scores"].iloc[0]
    assert (qk.m, qk.k, qk.n, qk["count"]) == (4 * 64, 128, 64, 32 * 8)  # 4 query heads share each KV head
    assert w[w.name == "ffn_gate"].macs.item() == 32 * 64 * 4096 * 14336


def test_decode_reads_a_growing_kv_cache() -> None:
    spec = get_model("smollm2-135m")
    w = build_workload(spec, WorkloadOptions(prefill_tokens=16, decode_tokens=3)).table()
    dec = w[w.name == "decode_qk_scores"]
    assert list(dec.n) == [17, 18, 19]
    assert dec.b_from_dram.all() and (dec.m == 3).all()  # 9 query heads / 3 KV heads
    assert w[w.name == "decode_q_proj"].iloc[0][["m", "count"]].tolist() == [1, 30 * 3]
    assert w[w.name == "lm_head"]["count"].item() == 4  # last prompt token + 3 steps
    assert (w[w.name == "decode_k_proj"].extra_dram_words == 2 * 3 * 64).all()  # K and V rows appended


def test_pruned_models_never_have_more_macs() -> None:
    spec = get_model("clip-vit-b-16")
    full = build_workload(spec).total_macs()
    rng = np.random.default_rng(1)
    space = default_space(spec)
    for _ in range(20):
        text = ",".join(f"{e}.{k}={rng.choice(r.values())}" for e, knobs in space.items() for k, r in knobs.items())
        pruned = prune_spec(spec, parse_prune(spec, text))
        assert build_workload(pruned).total_macs() < full


def test_pruned_attention_width_is_decoupled_from_hidden() -> None:
    spec = get_model("clip-vit-b-16")
    pruned = prune_spec(spec, parse_prune(spec, "vision.heads=6,vision.hidden_blocks=8"))
    w = build_workload(pruned).table()
    q = w[(w.encoder == "vision") & (w.name == "q_proj")].iloc[0]
    assert (q.k, q.n) == (768, 6 * 64)
    o = w[(w.encoder == "vision") & (w.name == "o_proj")].iloc[0]
    assert (o.k, o.n) == (384, 768)


def test_vector_ops_record_their_kind_and_the_estimator_reads_cycles_from_tech() -> None:
    from catransformers.hardware import HardwareConfig, Tech, estimate
    from catransformers.hardware.tech import VECTOR_CYCLES_PER_ELEMENT

    work = build_workload(get_model("tinyclip-8m-16"))
    kinds = set(work.vec_kind[~work.is_gemm])
    assert {"softmax", "layernorm", "add"} <= kinds and set(work.vec_kind[work.is_gemm]) == {""}
    assert kinds <= set(VECTOR_CYCLES_PER_ELEMENT)
    hw = HardwareConfig(clusters=1, width=32, depth=8, l2_kb=64, l2_bw=64, glb_mb=2).columns()
    base = estimate(work, hw, Tech(), per_op=True)
    slow = estimate(work, hw, Tech(vector_cycles_per_element={"softmax": 50.0}), per_op=True)
    soft = work.name == "softmax"
    assert np.all(slow.op_latency_s[soft, 0] > base.op_latency_s[soft, 0])
    assert np.array_equal(slow.op_latency_s[work.is_gemm, 0], base.op_latency_s[work.is_gemm, 0])
    with pytest.raises(UserError, match="no cycles per element"):
        Tech(vector_cycles_per_element={"softmax": 5.0}).vector_cycles(np.array(["softmax", "erf"]))
