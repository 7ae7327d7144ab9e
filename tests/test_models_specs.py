"""Model registry, HF-config loading, pruning space and parameter counts."""

import json

import pytest
from transformers import BertConfig, BertModel, CLIPConfig, CLIPModel, LlamaConfig, LlamaForCausalLM

from catransformers.errors import UserError
from catransformers.models import (
    REGISTRY,
    default_space,
    format_prune,
    full_params,
    get_model,
    param_count,
    parse_prune,
    prune_spec,
    resolve_model,
    spec_from_hf_config,
)

REQUIRED = [
    "clip-vit-b-16", "clip-vit-b-32", "clip-vit-l-14", "clip-vit-h-14", "tinyclip-8m-16", "tinyclip-39m-16",
    "tinyclip-40m-32", "tinyclip-61m-32", "bert-base", "vit-b-16", "llama-2-7b", "llama-3-8b", "minilm-l6",
    "smollm2-135m",
]


def test_registry_has_required_models_with_sources():
    for mid in REQUIRED:
        spec = get_model(mid)
        assert spec.source, mid
        assert all(e.layers > 0 and e.hidden > 0 for e in spec.encoders)


@pytest.mark.parametrize(
    ("mid", "expected_m"),
    [("clip-vit-b-16", 149.6), ("bert-base", 109.5), ("llama-2-7b", 6738.4), ("llama-3-8b", 8030.3),
     ("smollm2-135m", 134.5), ("minilm-l6", 22.7), ("vit-b-16", 86.6)],
)
def test_param_counts_match_published_sizes(mid, expected_m):
    assert param_count(get_model(mid)) / 1e6 == pytest.approx(expected_m, abs=0.1)


def test_clip_token_counts():
    assert get_model("clip-vit-b-16").encoder("vision").seq_len == 197
    assert get_model("clip-vit-b-32").encoder("vision").seq_len == 50
    assert get_model("clip-vit-b-16").encoder("text").seq_len == 77


def test_unknown_model_suggests_close_names():
    with pytest.raises(UserError, match="clip-vit-b-16"):
        get_model("clip-vit-b16")


def test_param_count_equals_hf_models_built_from_configs():
    bert = BertModel(BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                vocab_size=100, max_position_embeddings=32))
    cfg = bert.config.to_dict() | {"model_type": "bert"}
    assert param_count(_spec_from_dict(cfg)) == sum(p.numel() for p in bert.parameters())
    llama = LlamaForCausalLM(LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, intermediate_size=96, vocab_size=100))
    cfg = llama.config.to_dict() | {"model_type": "llama"}
    assert param_count(_spec_from_dict(cfg)) == sum(p.numel() for p in llama.parameters())
    clip = CLIPModel(CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                         vocab_size=99),
        vision_config=dict(hidden_size=48, intermediate_size=96, num_attention_heads=4, num_hidden_layers=2,
                           image_size=32, patch_size=8),
        projection_dim=16))
    cfg = clip.config.to_dict()
    assert param_count(_spec_from_dict(cfg)) == sum(p.numel() for p in clip.parameters())


def _spec_from_dict(cfg):
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp())
    (d / "config.json").write_text(json.dumps(cfg, default=str))
    return spec_from_hf_config(d)


def test_resolve_model_reads_local_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "bert", "num_hidden_layers": 4, "hidden_size": 256, "intermediate_size": 1024,
         "num_attention_heads": 4, "vocab_size": 30522, "max_position_embeddings": 512}))
    spec = resolve_model(str(tmp_path))
    assert spec.family == "bert" and spec.encoders[0].layers == 4


def test_bad_config_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no Hugging Face config"):
        spec_from_hf_config(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        spec_from_hf_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(UserError, match="not supported"):
        spec_from_hf_config(tmp_path)


def test_prune_parsing_and_pruned_dims():
    clip = get_model("clip-vit-b-16")
    params = parse_prune(clip, "text.layers=6,vision.ffn_blocks=5,vision.hidden_blocks=4,vision.heads=6")
    pruned = prune_spec(clip, params)
    assert pruned.encoder("text").layers == 6
    assert pruned.encoder("vision").ffn == 3072 * 5 // 8
    assert pruned.encoder("vision").hidden == 384
    assert pruned.encoder("vision").attn_dim == 6 * 64
    assert "text.layers=6" in format_prune(clip, params)
    assert param_count(pruned) < param_count(clip)
    assert prune_spec(clip, full_params(clip)) is clip


@pytest.mark.parametrize(
    ("mid", "text", "match"),
    [("clip-vit-b-16", "layers=4", "encoder prefix"), ("minilm-l6", "layers=7", "outside 1..6"),
     ("minilm-l6", "layers=0", "outside"), ("minilm-l6", "depth=3", "unknown key"),
     ("minilm-l6", "layers=three", "integer"), ("minilm-l6", "layers", "key=value"),
     ("llama-3-8b", "heads=6", "grouped-query"), ("clip-vit-b-16", "audio.layers=3", "unknown encoder")],
)
def test_prune_errors(mid, text, match):
    with pytest.raises(UserError, match=match):
        parse_prune(get_model(mid), text)


def test_gqa_pruning_removes_whole_groups():
    llama = get_model("llama-3-8b")
    pruned = prune_spec(llama, parse_prune(llama, "heads=16"))
    assert pruned.encoders[0].kv_heads == 4 and pruned.encoders[0].group_size == 4


def test_default_space_matches_paper_ranges():
    space = default_space(get_model("clip-vit-b-16"))
    assert (space["text"]["layers"].low, space["text"]["layers"].high) == (6, 12)
    assert (space["text"]["heads"].low, space["vision"]["heads"].low) == (4, 6)
    assert (space["vision"]["ffn_blocks"].low, space["vision"]["ffn_blocks"].high) == (4, 8)
    assert default_space(get_model("minilm-l6"))["main"]["hidden_blocks"].values() == list(range(8, 17))
    assert default_space(get_model("llama-3-8b"))["main"]["heads"].values() == [16, 20, 24, 28, 32]


def test_every_registered_model_prunes_to_its_space_minimum():
    for spec in REGISTRY.values():
        low = {e: {k: r.low for k, r in knobs.items()} for e, knobs in default_space(spec).items()}
        text = ",".join(
            f"{e + '.' if len(spec.encoders) > 1 else ''}{k}={v}" for e, kv in low.items() for k, v in kv.items()
        )
        assert param_count(prune_spec(spec, parse_prune(spec, text))) < param_count(spec)
