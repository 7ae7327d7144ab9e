"""CLIP zero-shot retrieval: mean recall@1 = (image->text R@1 + text->image R@1) / 2 (the paper's metric).

Data (``recipe.data``): an OpenCLIP-style CSV (tab- or comma-separated; image column ``filepath`` / ``image`` /
``image_path``, caption column ``title`` / ``caption`` / ``text``; relative image paths are relative to the CSV)
or a Hugging Face dataset saved with ``save_to_disk`` (read directly from its Arrow files, no ``datasets``
needed; an ``image`` column of {bytes, path} and a ``caption`` / ``text`` column). An image may have several
captions (MSCOCO: 5): image->text is a hit if its top caption is one of its own; text->image if its top image is
its own. An optional ``split`` column (train / test) separates healing data from scored data; without it both
use every row. Missing images or an unreadable file -> UserError.

Healing: ``supervised`` = CLIP's symmetric contrastive loss on the training pairs; ``distill`` = 1 - cosine
between student and teacher embeddings of images and captions. Pruning never touches the projection width, so
both live in the same joint space.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.stats import Interval, bootstrap_items, interval
from catransformers.accuracy.tasks.base import HealObjective, LossFn, Task, autocast
from catransformers.errors import UserError

_IMAGE_COLS = ("filepath", "image", "image_path", "img")
_TEXT_COLS = ("title", "caption", "text", "sentence")


@dataclass
class Pairs:
    """Captions with the index of their image; images as paths or encoded bytes."""

    images: list  # Path or bytes, one per distinct image
    captions: list[str]
    caption_image: np.ndarray  # (n_captions,) index into images
    is_test: np.ndarray  # (n_captions,) bool


def _pick(cols: list[str], options: tuple[str, ...], what: str, src: Path) -> str:
    for c in options:
        if c in cols:
            return c
    raise UserError(f"dataset {src} has no {what} column (one of {', '.join(options)}); columns: {', '.join(cols)}")


def _group(keys: list, captions: list[str], splits: list[str] | None, loaders: dict) -> Pairs:
    index: dict = {}
    images: list = []
    owner = []
    for k in keys:
        if k not in index:
            index[k] = len(images)
            images.append(loaders[k])
        owner.append(index[k])
    test = np.array([s.strip().lower() in ("test", "val", "validation") for s in splits]) if splits else None
    if test is None or not test.any():
        test = np.ones(len(captions), bool)
    return Pairs(images, captions, np.array(owner), test)


def read_csv_pairs(path: Path) -> Pairs:
    try:
        text = path.read_text(encoding="utf-8")
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters="\t,")
        rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    except (OSError, UnicodeDecodeError, csv.Error, IndexError) as err:
        raise UserError(f"cannot read image-caption CSV {path} ({err or 'empty'})") from None
    if not rows:
        raise UserError(f"image-caption CSV {path} has no rows")
    cols = list(rows[0])
    img_col, txt_col = _pick(cols, _IMAGE_COLS, "image", path), _pick(cols, _TEXT_COLS, "caption", path)
    paths = [(path.parent / r[img_col]).resolve() if not Path(r[img_col]).is_absolute() else Path(r[img_col])
             for r in rows]
    missing = sorted({str(p) for p in paths if not p.is_file()})
    if missing:
        raise UserError(f"{len(missing)} image(s) listed in {path} are missing, e.g. {missing[0]}")
    splits = [r.get("split", "") for r in rows] if "split" in cols else None
    return _group([str(p) for p in paths], [r[txt_col] for r in rows], splits, {str(p): p for p in paths})


def read_hf_dataset(folder: Path) -> Pairs:
    """A `datasets` ``save_to_disk`` folder, read from its Arrow stream files with pyarrow."""
    import pyarrow as pa

    try:
        state = json.loads((folder / "state.json").read_text())
        tables = []
        for f in state["_data_files"]:
            with pa.memory_map(str(folder / f["filename"])) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        table = pa.concat_tables(tables)
    except (OSError, KeyError, ValueError, pa.ArrowInvalid) as err:
        raise UserError(f"cannot read Hugging Face dataset {folder} ({err})") from None
    cols = table.column_names
    img_col, txt_col = _pick(cols, _IMAGE_COLS, "image", folder), _pick(cols, _TEXT_COLS, "caption", folder)
    images, captions = table.column(img_col).to_pylist(), table.column(txt_col).to_pylist()
    keys, loaders = [], {}
    for i, img in enumerate(images):
        data = img.get("bytes") if isinstance(img, dict) else None
        path = img.get("path") if isinstance(img, dict) else img
        if data is None and (not path or not Path(path).is_file()):
            raise UserError(f"image of row {i} in {folder} is missing ({path})")
        key = path or f"row{i}"
        keys.append(key)
        loaders.setdefault(key, data if data is not None else Path(path))
    splits = table.column("split").to_pylist() if "split" in cols else None
    caps = [c if isinstance(c, str) else c[0] for c in captions]  # a list of captions: the first
    return _group(keys, caps, splits, loaders)


def load_pairs(data: str | None) -> Pairs:
    if not data:
        raise UserError("task 'clip-retrieval' needs image-caption data: pass --data CSV or a saved HF dataset folder")
    path = Path(data).expanduser()
    if path.is_dir():
        return read_hf_dataset(path)
    if not path.is_file():
        raise UserError(f"dataset {path} does not exist")
    return read_csv_pairs(path)


def open_image(item):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(item if isinstance(item, Path) else io.BytesIO(item))
        return img.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise UserError(f"unreadable image {item if isinstance(item, Path) else '<bytes>'} ({err})") from None


def recall_hits(image_emb: torch.Tensor, text_emb: torch.Tensor,
                caption_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-query R@1 hits (image->text per image, text->image per caption); `caption_image[j]` owns caption j."""
    sim = (image_emb.float() @ text_emb.float().T).cpu().numpy()  # (images, captions)
    owner = np.asarray(caption_image)
    return owner[sim.argmax(1)] == np.arange(len(sim)), sim.argmax(0) == owner


def recall_at_1(image_emb: torch.Tensor, text_emb: torch.Tensor, caption_image: np.ndarray) -> tuple[float, float]:
    """(image->text R@1, text->image R@1) for L2-normalised embeddings; `caption_image[j]` owns caption j."""
    i2t, t2i = recall_hits(image_emb, text_emb, caption_image)
    return float(i2t.mean()), float(t2i.mean())


def mean_recall_interval(i2t: np.ndarray, t2i: np.ndarray, owner: np.ndarray, seed: int) -> Interval:
    """(i2t + t2i) / 2 with its interval, resampling images (an image and its captions are one unit)."""
    owner = np.asarray(owner)
    n_img = len(i2t)
    caps = np.zeros(n_img)
    np.add.at(caps, owner, t2i.astype(float))
    count = np.bincount(owner, minlength=n_img).astype(float)
    per = np.stack([i2t.astype(float), caps, count], axis=1)  # per image: hit, caption hits, captions

    def stat(s: np.ndarray) -> np.ndarray:
        return (s[..., 0].mean(-1) + s[..., 1].sum(-1) / np.maximum(s[..., 2].sum(-1), 1)) / 2

    point, boot = bootstrap_items(per, stat, seed=seed)
    return interval(point, boot, n_img)


def _features(output) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipRetrieval(Task):
    name = "clip-retrieval"
    takes_data = True
    metric = "mean_recall@1"
    families = ("clip",)

    @cached_property
    def pairs(self) -> Pairs:
        return load_pairs(self.recipe.data)

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        p = self.pairs
        digest.update(json.dumps([p.captions, p.caption_image.tolist(), p.is_test.tolist()]).encode())
        for img in p.images:  # paths by name, size and mtime (hashing every image of a 5k set costs minutes)
            if isinstance(img, Path):
                st = img.stat()
                digest.update(f"{img}:{st.st_size}:{st.st_mtime_ns}".encode())
            else:
                digest.update(hashlib.sha256(img).digest())
        return digest.hexdigest()[:16]

    def _pixels(self, items: list) -> torch.Tensor:
        return self.loaded.processor(images=[open_image(i) for i in items], return_tensors="pt")["pixel_values"]

    def _text(self, captions: list[str]) -> dict:
        return dict(self.loaded.processor(text=captions, padding=True, truncation=True, return_tensors="pt"))

    def encode(self, model: nn.Module, images: list, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        img, txt = [], []
        with torch.no_grad(), autocast(self.device):
            for i in range(0, len(images), 64):
                px = self._pixels(images[i:i + 64]).to(self.device)
                img.append(_features(model.get_image_features(pixel_values=px)).float())
            for i in range(0, len(captions), 256):
                batch = {k: v.to(self.device) for k, v in self._text(captions[i:i + 256]).items()}
                txt.append(_features(model.get_text_features(**batch)).float())
        norm = nn.functional.normalize
        return norm(torch.cat(img), dim=-1), norm(torch.cat(txt), dim=-1)

    def _subset(self, test: bool) -> tuple[list, list[str], np.ndarray]:
        p = self.pairs
        rows = np.flatnonzero(p.is_test if test else (~p.is_test if (~p.is_test).any() else p.is_test))
        used = sorted(set(p.caption_image[rows].tolist()))
        remap = {old: new for new, old in enumerate(used)}
        return ([p.images[i] for i in used], [p.captions[j] for j in rows],
                np.array([remap[p.caption_image[j]] for j in rows]))

    def score_interval(self, model: nn.Module) -> Interval:
        images, captions, owner = self._subset(test=True)
        model.eval()
        i2t, t2i = recall_hits(*self.encode(model, images, captions), owner)
        return mean_recall_interval(i2t, t2i, owner, self.recipe.seed)

    def _train_batch(self, idx: list[int]) -> dict:
        images, captions, owner = self._subset(test=False)
        batch = self._text([captions[j] for j in idx])
        batch["pixel_values"] = self._pixels([images[owner[j]] for j in idx])
        return {k: v.to(self.device) for k, v in batch.items()}

    def calibration(self) -> tuple[list[dict], LossFn]:
        n = min(self.recipe.calib_size, len(self._subset(test=False)[1]))
        b = self.recipe.batch_size
        batches = [{**self._train_batch(list(range(i, min(i + b, n)))), "return_loss": True} for i in range(0, n, b)]
        return batches, lambda model, batch: model(**batch).loss

    def supervised_objective(self) -> HealObjective:
        size = len(self._subset(test=False)[1])
        return HealObjective(size, lambda model, idx: model(**self._train_batch(idx.tolist()), return_loss=True).loss,
                             "CLIP contrastive loss on the training pairs")

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        size = len(self._subset(test=False)[1])
        teacher.eval()

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            batch = self._train_batch(idx.tolist())
            text = {k: v for k, v in batch.items() if k != "pixel_values"}
            with torch.no_grad():
                t_img = _features(teacher.get_image_features(pixel_values=batch["pixel_values"]))
                t_txt = _features(teacher.get_text_features(**text))
            s_img = _features(model.get_image_features(pixel_values=batch["pixel_values"]))
            s_txt = _features(model.get_text_features(**text))
            cos = nn.functional.cosine_similarity
            return (2 - cos(s_img.float(), t_img.float()).mean() - cos(s_txt.float(), t_txt.float()).mean()) / 2

        return HealObjective(size, loss, "embedding distillation on the training pairs")
