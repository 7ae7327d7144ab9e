"""Structured pruning mechanics on tiny random-initialised BERT, Llama (GQA), ViT and CLIP models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as T

from catransformers.accuracy.importance import EncoderImportance, Importance
from catransformers.accuracy.pruning import load_pruned, prune_model, save_pruned, spec_of_model
from catransformers.models import param_count, parse_prune, prune_spec

VOCAB = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bert() -> T.PreTrainedModel:
    return T.BertModel(T.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                    intermediate_size=64, max_position_embeddings=24))


def _bert_cls() -> T.PreTrainedModel:
    return T.BertForSequenceClassification(T.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=24, num_labels=3))


def _llama(tie: bool = True) -> T.PreTrainedModel:
    cfg = T.LlamaConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
                        num_key_value_heads=2, intermediate_size=64, tie_word_embeddings=tie,
                        max_position_embeddings=64)
    return T.LlamaForCausalLM(cfg)


def _llama_base() -> T.PreTrainedModel:
    return T.LlamaModel(T.LlamaConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
                                      num_key_value_heads=2, intermediate_size=64))


def _vit_cls() -> T.PreTrainedModel:
    return T.ViTForImageClassification(T.ViTConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                                   intermediate_size=64, image_size=16, patch_size=8, num_labels=3))


def _vit() -> T.PreTrainedModel:
    return T.ViTModel(T.ViTConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64,
                                  image_size=16, patch_size=8))


def _clip() -> T.PreTrainedModel:
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, vocab_size=VOCAB,
                max_position_embeddings=16, eos_token_id=VOCAB - 1, bos_token_id=VOCAB - 2)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, image_size=16,
                  patch_size=8)
    return T.CLIPModel(T.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))


def _inputs(family: str) -> dict:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB - 2, (2, 9), generator=g)
    pixels = torch.randn(2, 3, 16, 16, generator=g)
    if family in ("bert", "llama"):
        return {"input_ids": ids}
    if family == "vit":
        return {"pixel_values": pixels}
    ids[:, -1] = VOCAB - 1  # CLIP pools at the end-of-text token
    return {"input_ids": ids, "pixel_values": pixels}


def _out(model, batch) -> torch.Tensor:
    with torch.no_grad():
        o = model(**batch)
    if hasattr(o, "logits_per_image"):
        return torch.cat([o.text_embeds.flatten(), o.image_embeds.flatten(), o.logits_per_image.flatten()])
    return (o.logits if getattr(o, "logits", None) is not None else o.last_hidden_state).flatten()


# factory, family, pruned specs (several per family), whether the last spec keeps heads*head_dim == hidden
CASES = {
    "bert": (_bert, "bert", ["layers=2", "heads=2", "ffn_blocks=5", "hidden_blocks=10",
                             "layers=2,heads=3,ffn_blocks=9,hidden_blocks=12",
                             "layers=1,heads=3,ffn_blocks=1,hidden_blocks=11"]),
    "bert_cls": (_bert_cls, "bert", ["layers=2,heads=2,ffn_blocks=7,hidden_blocks=11"]),
    "llama": (_llama, "llama", ["layers=2", "heads=3", "ffn_blocks=6", "hidden_blocks=9",
                                "layers=2,heads=3,ffn_blocks=9,hidden_blocks=12",
                                "layers=1,heads=3,ffn_blocks=1,hidden_blocks=1"]),
    "llama_untied": (lambda: _llama(tie=False), "llama", ["layers=2,heads=3,ffn_blocks=5,hidden_blocks=7"]),
    "llama_base": (_llama_base, "llama", ["layers=2,heads=3,ffn_blocks=5,hidden_blocks=7"]),
    "vit_cls": (_vit_cls, "vit", ["layers=2", "heads=1", "ffn_blocks=3", "hidden_blocks=13",
                                  "layers=2,heads=3,ffn_blocks=9,hidden_blocks=10"]),
    "vit": (_vit, "vit", ["layers=2,heads=2,ffn_blocks=9,hidden_blocks=8"]),
    "clip": (_clip, "clip", ["text.layers=2", "vision.heads=2", "text.ffn_blocks=3,vision.hidden_blocks=5",
                             "text.layers=2,text.heads=3,text.ffn_blocks=5,text.hidden_blocks=7,"
                             "vision.layers=1,vision.heads=2,vision.ffn_blocks=4,vision.hidden_blocks=4"]),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    factory, family, specs = CASES[request.param]
    torch.manual_seed(0)
    model = factory().eval()
    return model, family, specs, spec_of_model(model, f"tiny-{request.param}")


def _params(model) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _random_importance(spec, seed: int = 3) -> Importance:
    rng = np.random.default_rng(seed)
    encs = {e.name: EncoderImportance(rng.random(e.layers), rng.random((e.layers, e.heads)),
                                      rng.random((e.layers, e.ffn)), rng.random(e.hidden)) for e in spec.encoders}
    return Importance("random", encs)


def test_spec_of_model_counts_match_the_torch_model(case):
    model, _, _, spec = case
    assert param_count(spec) == _params(model)


def test_full_spec_is_numerically_identical(case):
    model, family, _, spec = case
    batch = _inputs(family)
    for imp in (None, _random_importance(spec)):
        full = prune_model(model, spec, parse_prune(spec, ""), imp)
        assert full is not model
        assert torch.equal(_out(full, batch), _out(model, batch))


def test_pruned_counts_shapes_and_forward(case):
    model, family, specs, spec = case
    batch = _inputs(family)
    before_out, before_count = _out(model, batch), _params(model)
    for text in specs:
        params = parse_prune(spec, text)
        target = prune_spec(spec, params)
        for imp in (None, _random_importance(spec)):
            pruned = prune_model(model, spec, params, imp)
            assert _params(pruned) == param_count(target), text
            again = spec_of_model(pruned, "x")  # uniform per-layer shapes read back from the modules
            assert [(e.layers, e.hidden, e.ffn, e.heads, e.kv_heads) for e in again.encoders] == [
                (e.layers, e.hidden, e.ffn, e.heads, e.kv_heads) for e in target.encoders], text
            out = _out(pruned, batch)
            assert torch.isfinite(out).all()
            if family in ("bert", "vit") and getattr(model.config, "num_labels", 0) and hasattr(model, "classifier"):
                assert pruned(**batch).logits.shape[-1] == model.config.num_labels
    assert _params(model) == before_count  # the original is untouched
    assert torch.equal(_out(model, batch), before_out)


def test_save_load_round_trip(case, tmp_path):
    model, family, specs, spec = case
    batch = _inputs(family)
    for i, text in enumerate([specs[-1], *specs[:1]]):
        pruned = prune_model(model, spec, parse_prune(spec, text), _random_importance(spec))
        path = save_pruned(pruned, tmp_path / f"m{i}")
        loaded = load_pruned(path)
        assert type(loaded) is type(pruned)
        assert _params(loaded) == _params(pruned)
        assert torch.allclose(_out(loaded, batch), _out(pruned, batch), atol=1e-6)


def test_standard_checkpoints_load_with_from_pretrained(tmp_path):
    """Llama and ViT express any pruned shape in their config; BERT and CLIP only when heads*head_dim == hidden."""
    torch.manual_seed(0)
    cases = [(_llama, "llama", "layers=2,heads=3,ffn_blocks=5,hidden_blocks=7"),
             (_vit_cls, "vit", "layers=2,heads=3,ffn_blocks=9,hidden_blocks=10"),
             (_bert, "bert", "layers=2,heads=2,hidden_blocks=8"),
             (_clip, "clip", "text.layers=2,text.heads=2,text.hidden_blocks=4,vision.ffn_blocks=5")]
    for factory, family, text in cases:
        model = factory().eval()
        spec = spec_of_model(model, "tiny")
        pruned = prune_model(model, spec, parse_prune(spec, text))
        path = save_pruned(pruned, tmp_path / family)
        loaded = type(pruned).from_pretrained(path).eval()
        assert torch.allclose(_out(loaded, _inputs(family)), _out(pruned, _inputs(family)), atol=1e-6), family
        if family != "llama":  # the bare encoder class loads the same pruned transformer layers
            bare = T.AutoModel.from_pretrained(path).state_dict()
            full = pruned.state_dict()
            layer_keys = [k for k in bare if ".layer" in k]  # encoder.layer.N / encoder.layers.N
            assert layer_keys, family
            for name in layer_keys:
                [match] = [t for k, t in full.items() if k == name or k.endswith("." + name)]
                assert torch.equal(bare[name], match), (family, name)


def test_custom_layout_is_refused_by_from_pretrained_and_loads_with_load_pruned(tmp_path):
    torch.manual_seed(0)
    model = _bert().eval()
    spec = spec_of_model(model, "tiny")
    pruned = prune_model(model, spec, parse_prune(spec, "heads=2,hidden_blocks=12"))  # 2*8 != 24
    path = save_pruned(pruned, tmp_path / "b")
    with pytest.raises(RuntimeError):
        T.BertModel.from_pretrained(path)
    assert torch.allclose(_out(load_pruned(path), _inputs("bert")), _out(pruned, _inputs("bert")), atol=1e-6)


def test_tied_lm_head_stays_tied():
    torch.manual_seed(0)
    model = _llama(tie=True).eval()
    spec = spec_of_model(model, "tiny")
    pruned = prune_model(model, spec, parse_prune(spec, "hidden_blocks=9"))
    assert pruned.lm_head.weight is pruned.model.embed_tokens.weight
    assert pruned.lm_head.weight.shape == (VOCAB, 27)
