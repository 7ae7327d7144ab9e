"""Importance scores: known-answer selection, data-driven methods on tiny models, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as T

from catransformers.accuracy.importance import METHODS, EncoderImportance, Importance, compute_importance
from catransformers.accuracy.pruning import prune_model, spec_of_model
from catransformers.errors import UserError
from catransformers.models import parse_prune

VOCAB = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bert() -> T.BertModel:
    torch.manual_seed(0)
    return T.BertModel(T.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                    intermediate_size=64, max_position_embeddings=24)).eval()


def _llama() -> T.LlamaForCausalLM:
    torch.manual_seed(0)
    return T.LlamaForCausalLM(T.LlamaConfig(
        vocab_size=VOCAB, hidden_size=48, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
        intermediate_size=64, tie_word_embeddings=True)).eval()


def _batches(n: int = 2) -> list[dict]:
    g = torch.Generator().manual_seed(5)
    return [{"input_ids": torch.randint(0, VOCAB, (2, 10), generator=g)} for _ in range(n)]


def _bert_loss(model, batch) -> torch.Tensor:  # a self-supervised stand-in: match a fixed random target
    target = torch.linspace(-1, 1, model.config.hidden_size)
    return (model(**batch).last_hidden_state - target).pow(2).mean()


def _lm_loss(model, batch) -> torch.Tensor:
    return model(**batch, labels=batch["input_ids"]).loss


def _hidden(model, batch) -> torch.Tensor:
    with torch.no_grad():
        out = model(**batch)
    return out.logits if hasattr(out, "logits") and out.logits is not None else out.last_hidden_state


def _const_importance(spec, **overrides) -> Importance:
    e = spec.encoders[0]
    arrays = dict(layers=np.ones(e.layers), heads=np.ones((e.layers, e.heads)), ffn=np.ones((e.layers, e.ffn)),
                  hidden=np.ones(e.hidden))
    arrays.update(overrides)
    return Importance("given", {e.name: EncoderImportance(**arrays)})


def test_highest_scores_survive_in_original_order_bert():
    model = _bert()
    spec = spec_of_model(model, "tiny")
    heads = np.ones((3, 4))
    heads[2] = [0.9, 0.1, 0.8, 0.2]  # original layer 2 keeps heads 0 and 2
    ffn = np.zeros((3, 64))
    ffn[1, [5, 60, 7]] = [3, 2, 1]  # original layer 1 keeps neurons 5, 7, 60 (and the first 9 of the zero ties)
    hidden = np.arange(32, dtype=float)[::-1].copy()  # the first channels score highest
    hidden[31] = 100.0  # ... except the last, which scores highest of all
    imp = _const_importance(spec, layers=np.array([0.1, 0.9, 0.5]), heads=heads, ffn=ffn, hidden=hidden)
    pruned = prune_model(model, spec, parse_prune(spec, "layers=2,heads=2,ffn_blocks=3,hidden_blocks=12"), imp)
    orig, new = model.encoder.layer, pruned.encoder.layer
    keep_h = torch.tensor([*range(23), 31])
    # layers 1 and 2 survive, in order
    q_new = new[1].attention.self.query.weight
    q_old = orig[2].attention.self.query.weight
    rows = torch.cat([torch.arange(0, 8), torch.arange(16, 24)])
    assert torch.equal(q_new, q_old[rows][:, keep_h])
    assert torch.equal(new[1].attention.output.dense.weight, orig[2].attention.output.dense.weight[keep_h][:, rows])
    up_keep = torch.tensor(sorted(np.argsort(-ffn[1], kind="stable")[:12]))
    assert {5, 7, 60} <= set(up_keep.tolist())
    assert torch.equal(new[0].intermediate.dense.weight, orig[1].intermediate.dense.weight[up_keep][:, keep_h])
    assert torch.equal(pruned.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight[:, keep_h])
    assert torch.equal(pruned.pooler.dense.weight, model.pooler.dense.weight[keep_h][:, keep_h])


def test_gqa_keeps_whole_query_groups_with_their_kv_head():
    model = _llama()
    spec = spec_of_model(model, "tiny")
    heads = np.tile([1.0, 1, 1, 5, 0, 5], (3, 1))  # group 1 (heads 3-5) sums highest
    pruned = prune_model(model, spec, parse_prune(spec, "heads=3"), _const_importance(spec, heads=heads))
    a_old, a_new = model.model.layers[0].self_attn, pruned.model.layers[0].self_attn
    assert torch.equal(a_new.q_proj.weight, a_old.q_proj.weight[24:48])
    assert torch.equal(a_new.k_proj.weight, a_old.k_proj.weight[8:16])
    assert torch.equal(a_new.v_proj.weight, a_old.v_proj.weight[8:16])
    assert torch.equal(a_new.o_proj.weight, a_old.o_proj.weight[:, 24:48])
    assert pruned.config.num_key_value_heads == 1 and pruned.config.num_attention_heads == 3


def _kill_bert_units(model) -> None:
    """Head 2 and FFN neurons 0-15 of every layer contribute nothing (all their weights zero)."""
    with torch.no_grad():
        for layer in model.encoder.layer:
            att = layer.attention
            for lin in (att.self.query, att.self.key, att.self.value):
                lin.weight[16:24] = 0
                lin.bias[16:24] = 0
            att.output.dense.weight[:, 16:24] = 0
            layer.intermediate.dense.weight[:16] = 0
            layer.intermediate.dense.bias[:16] = 0
            layer.output.dense.weight[:, :16] = 0


@pytest.mark.parametrize("method", ["taylor", "activation", "magnitude"])
def test_data_driven_scores_find_dead_heads_and_neurons(method):
    model = _bert()
    _kill_bert_units(model)
    spec = spec_of_model(model, "tiny")
    batches = _batches()
    imp = compute_importance(model, "bert", batches, _bert_loss, method)
    enc = imp.encoders["main"]
    assert (enc.heads.argmin(axis=1) == 2).all()
    assert (enc.ffn[:, :16].max(axis=1) < enc.ffn[:, 16:].min(axis=1)).all()
    params = parse_prune(spec, "heads=3,ffn_blocks=12")
    by_importance = prune_model(model, spec, params, imp)
    from_the_end = prune_model(model, spec, params)
    ref = _hidden(model, batches[0])
    assert torch.allclose(_hidden(by_importance, batches[0]), ref, atol=1e-5)  # only dead units were removed
    assert not torch.allclose(_hidden(from_the_end, batches[0]), ref, atol=1e-3)


@pytest.mark.parametrize("method", ["taylor", "activation"])
def test_data_driven_scores_find_an_identity_layer(method):
    model = _llama()
    with torch.no_grad():  # pre-norm residual: zero output projections make layer 0 the identity
        model.model.layers[0].self_attn.o_proj.weight.zero_()
        model.model.layers[0].mlp.down_proj.weight.zero_()
    spec = spec_of_model(model, "tiny")
    batches = _batches()
    imp = compute_importance(model, "llama", batches, _lm_loss, method)
    assert imp.encoders["main"].layers.argmin() == 0
    pruned = prune_model(model, spec, parse_prune(spec, "layers=2"), imp)
    assert torch.allclose(_hidden(pruned, batches[0]), _hidden(model, batches[0]), atol=1e-5)
    assert not torch.allclose(_hidden(prune_model(model, spec, parse_prune(spec, "layers=2")), batches[0]),
                              _hidden(model, batches[0]), atol=1e-3)


def _vit_case():
    torch.manual_seed(0)
    model = T.ViTForImageClassification(T.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                    intermediate_size=64, image_size=16, patch_size=8,
                                                    num_labels=3)).eval()
    batches = [{"pixel_values": torch.randn(4, 3, 16, 16), "labels": torch.tensor([0, 1, 2, 0])}]
    return model, "vit", batches, lambda m, b: m(**b).loss


def _clip_case():
    torch.manual_seed(0)
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=VOCAB,
                max_position_embeddings=16, eos_token_id=VOCAB - 1, bos_token_id=VOCAB - 2)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=16,
                  patch_size=8)
    model = T.CLIPModel(T.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)).eval()
    ids = torch.randint(0, VOCAB - 2, (3, 8))
    ids[:, -1] = VOCAB - 1
    batches = [{"input_ids": ids, "pixel_values": torch.randn(3, 3, 16, 16)}]
    return model, "clip", batches, lambda m, b: m(**b, return_loss=True).loss


def _bert_case():
    return _bert(), "bert", _batches(1), _bert_loss


def _llama_case():
    return _llama(), "llama", _batches(1), _lm_loss


@pytest.mark.parametrize("make", [_bert_case, _llama_case, _vit_case, _clip_case])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_on_every_family(make, method):
    model, family, batches, loss_fn = make()
    spec = spec_of_model(model, "tiny")
    imp = compute_importance(model, family, batches, loss_fn, method, ablation_chunks=4)
    assert set(imp.encoders) == set(spec.encoder_names)
    for e in spec.encoders:
        s = imp.encoders[e.name]
        assert s.layers.shape == (e.layers,) and s.heads.shape == (e.layers, e.heads)
        assert s.ffn.shape == (e.layers, e.ffn) and s.hidden.shape == (e.hidden,)
        assert all(np.isfinite(getattr(s, k)).all() for k in ("layers", "heads", "ffn", "hidden"))
        assert np.ptp(s.hidden) > 0 and np.ptp(s.heads) > 0  # scores discriminate between units
    assert not any(p.grad is not None for p in model.parameters())
    half = ",".join(f"{p}{k}={v}" for p in ([f"{n}." for n in spec.encoder_names] if family == "clip" else [""])
                    for k, v in (("layers", 1), ("hidden_blocks", 5)))
    prune_model(model, spec, parse_prune(spec, half), imp)


def test_importance_save_load_round_trip(tmp_path):
    model = _bert()
    imp = compute_importance(model, "bert", [], None, "magnitude")
    path = imp.save(tmp_path / "imp" / "bert.npz")
    back = Importance.load(path)
    assert back.method == "magnitude" and back.meta == imp.meta
    for k in ("layers", "heads", "ffn", "hidden"):
        assert np.array_equal(getattr(back.encoders["main"], k), getattr(imp.encoders["main"], k))
    path.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot read importance"):
        Importance.load(path)


def test_bad_requests_are_user_errors():
    model = _bert()
    with pytest.raises(UserError, match="unknown importance method"):
        compute_importance(model, "bert", _batches(1), _bert_loss, "fisher")
    with pytest.raises(UserError, match="needs a loss function"):
        compute_importance(model, "bert", _batches(1), None, "taylor")
    with pytest.raises(UserError, match="family"):
        compute_importance(model, "llama", _batches(1), _bert_loss, "activation")
    with pytest.raises(UserError, match="calibration batch"):
        compute_importance(model, "bert", [], None, "activation")
    with pytest.raises(UserError, match="does not describe"):
        prune_model(model, spec_of_model(_llama(), "tiny"), {})
    spec = spec_of_model(model, "tiny")
    wrong = _const_importance(spec, hidden=np.ones(7))
    with pytest.raises(UserError, match="recompute importance"):
        prune_model(model, spec, parse_prune(spec, "hidden_blocks=8"), wrong)


def test_hidden_channels_are_cut_everywhere_clip_and_vit():
    """With known channel scores, every hidden-width tensor keeps exactly those channels' pretrained values."""
    model, _, _, _ = _clip_case()
    spec = spec_of_model(model, "tiny")
    keep = torch.tensor([1, 3, 4, 8, 9, 10, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27])  # 20 of 32
    scores = np.zeros(32)
    scores[keep.numpy()] = 1.0
    encs = {e.name: EncoderImportance(np.ones(e.layers), np.ones((e.layers, e.heads)), np.ones((e.layers, e.ffn)),
                                      scores) for e in spec.encoders}
    pruned = prune_model(model, spec, parse_prune(spec, "text.hidden_blocks=5,vision.hidden_blocks=5"),
                         Importance("given", encs))
    tv, pv = model.vision_model, pruned.vision_model
    assert torch.equal(pv.embeddings.class_embedding, tv.embeddings.class_embedding[keep])
    assert torch.equal(pv.embeddings.patch_embedding.weight, tv.embeddings.patch_embedding.weight[keep])
    assert torch.equal(pv.embeddings.position_embedding.weight, tv.embeddings.position_embedding.weight[:, keep])
    assert torch.equal(pv.pre_layrnorm.bias, tv.pre_layrnorm.bias[keep])
    assert torch.equal(pv.encoder.layers[1].mlp.fc2.bias, tv.encoder.layers[1].mlp.fc2.bias[keep])
    assert torch.equal(pruned.visual_projection.weight, model.visual_projection.weight[:, keep])
    assert torch.equal(pruned.text_projection.weight, model.text_projection.weight[:, keep])
    assert torch.equal(pruned.text_model.embeddings.token_embedding.weight,
                       model.text_model.embeddings.token_embedding.weight[:, keep])
    assert torch.equal(pruned.logit_scale, model.logit_scale)

    vit, _, batches, _ = _vit_case()
    spec = spec_of_model(vit, "tiny")
    imp = Importance("given", {"vision": EncoderImportance(np.ones(2), np.ones((2, 4)), np.ones((2, 64)), scores)})
    pruned = prune_model(vit, spec, parse_prune(spec, "hidden_blocks=10"), imp)
    assert torch.equal(pruned.vit.embeddings.cls_token, vit.vit.embeddings.cls_token[..., keep])
    assert torch.equal(pruned.vit.embeddings.position_embeddings, vit.vit.embeddings.position_embeddings[..., keep])
    assert torch.equal(pruned.classifier.weight, vit.classifier.weight[:, keep])
    assert torch.equal(pruned.classifier.bias, vit.classifier.bias)
    assert pruned(**batches[0]).logits.shape == (4, 3)
