"""A TINY TEST ViT trained here on scikit-learn's 8x8 digits: the offline image-classification model.

This is not a pretrained ViT-B: it exists so the ViT pruning / healing / scoring path runs for real on a fresh
machine with no hub access. It is trained once, deterministically (fixed seed, CPU), in a few seconds, and cached
under ``<cache>/models/tiny-vit-digits-v1`` as a standard Hugging Face checkpoint (ViTForImageClassification).
"""

from __future__ import annotations

from pathlib import Path

import torch
from filelock import FileLock

from catransformers.accuracy.cache import default_cache_dir
from catransformers.accuracy.data import digits_split
from catransformers.accuracy.runtime import LoadedModel, deterministic
from catransformers.fileio import atomic_write_dir

TINY_VIT_ID = "tiny-vit-digits"
TINY_VIT_VERSION = "v1"  # bump when the architecture or training below changes
_EPOCHS = 20
_BATCH = 64
_LR = 3e-3


def tiny_vit_config():
    """4 layers, hidden 64 (16 pruning blocks of 4), FFN 256, 4 heads of 16, 2x2 patches on 8x8 grey images."""
    from transformers import ViTConfig

    labels = {i: str(i) for i in range(10)}
    return ViTConfig(
        image_size=8, patch_size=2, num_channels=1, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=256, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        id2label=labels, label2id={v: k for k, v in labels.items()},
    )


def train_tiny_vit(seed: int = 0) -> torch.nn.Module:
    """Train the tiny ViT from scratch on the digits train split (deterministic on CPU)."""
    with deterministic(1):  # tiny GEMMs: one thread is fastest and reproducible
        return _train(seed)


def _train(seed: int) -> torch.nn.Module:
    from transformers import ViTForImageClassification

    split = digits_split()
    torch.manual_seed(seed)
    model = ViTForImageClassification(tiny_vit_config())
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    steps = _EPOCHS * ((len(y) + _BATCH - 1) // _BATCH)
    opt = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=_LR, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(_EPOCHS):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), _BATCH):
            idx = order[i:i + _BATCH]
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x[idx]).logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def tiny_vit_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "models" / f"tiny-vit-digits-{TINY_VIT_VERSION}"


def load_tiny_vit(cache_dir: str | Path | None = None):
    """Load the cached tiny ViT, training and caching it first if needed (atomic, lock-protected)."""
    from transformers import ViTForImageClassification

    folder = tiny_vit_dir(cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "model.safetensors").exists():
            model = train_tiny_vit()
            atomic_write_dir(folder, lambda tmp: model.save_pretrained(tmp))
    model = ViTForImageClassification.from_pretrained(str(folder), local_files_only=True).eval()
    return LoadedModel(TINY_VIT_ID, "vit", model, None, "digits", (folder / "model.safetensors",),
                       notes={"weights": "tiny test ViT trained here on scikit-learn digits (not ViT-B)"})
