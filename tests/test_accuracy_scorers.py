"""Task scorers and healing mechanics on synthetic data with known answers (no pretrained weights)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from catransformers.accuracy.heal import heal, heal_steps, lr_factor
from catransformers.accuracy.loaders import LoadedModel
from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.accuracy.tasks.base import HealObjective
from catransformers.accuracy.tasks.perplexity import token_nll
from catransformers.accuracy.tasks.retrieval import ClipRetrieval, recall_at_1
from catransformers.accuracy.tasks.similarity import relational_loss
from catransformers.errors import UserError

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}


def test_recall_at_1_known_embeddings() -> None:
    img = torch.eye(3)
    # captions 0,1 belong to image 0, caption 2 to image 1, caption 3 to image 2 (pointing at image 1: a miss)
    txt = nn.functional.normalize(torch.tensor([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1.0, 0], [0, 1.0, 0.2]]), dim=-1)
    i2t, t2i = recall_at_1(img, txt, np.array([0, 0, 1, 2]))
    assert i2t == 1.0  # every image's top caption is one of its own (image 2: caption 3, weakly)
    assert t2i == pytest.approx(3 / 4)  # caption 3 is closest to image 1, not its own image 2


class _ColourProcessor:
    """Images -> their mean RGB; a caption word -> the RGB of that colour (a 'perfect' CLIP)."""

    def __call__(self, images=None, text=None, **kwargs):
        if images is not None:
            px = torch.from_numpy(np.stack([np.asarray(i, dtype=np.float32).mean((0, 1)) / 255 for i in images]))
            return {"pixel_values": px}
        ids = torch.tensor([[list(COLOURS).index(t.split()[-1])] for t in text])
        return {"input_ids": ids}


class _ColourClip(nn.Module):
    def get_image_features(self, pixel_values):
        return pixel_values - 0.5

    def get_text_features(self, input_ids, **kwargs):
        table = torch.tensor(list(COLOURS.values()), dtype=torch.float32) / 255
        return table[input_ids[:, 0]] - 0.5


def _write_set(tmp_path, captions: dict[str, str], sep: str = "\t") -> str:
    lines = [f"filepath{sep}title"]
    for colour, caption in captions.items():
        Image.new("RGB", (8, 8), COLOURS[colour]).save(tmp_path / f"{colour}.png")
        lines.append(f"{colour}.png{sep}{caption}")
    csv = tmp_path / "pairs.csv"
    csv.write_text("\n".join(lines) + "\n")
    return str(csv)


def _task(data: str, model: nn.Module | None = None) -> ClipRetrieval:
    loaded = LoadedModel("fake-clip", "clip", model or _ColourClip(), _ColourProcessor(), "clip-retrieval")
    return ClipRetrieval(loaded, AccuracyRecipe(data=data), CPU)


def test_clip_retrieval_perfect_and_swapped(tmp_path) -> None:
    csv = _write_set(tmp_path, {c: f"a photo of {c}" for c in COLOURS})
    assert _task(csv).score(_ColourClip()) == 1.0
    swapped = {"red": "a photo of blue", "blue": "a photo of red", "green": "a photo of green",
               "white": "a photo of white"}
    (tmp_path / "b").mkdir()
    csv2 = _write_set(tmp_path / "b", swapped, sep=",")
    assert _task(csv2).score(_ColourClip()) == 0.5  # two of four pairs right, both directions


def test_clip_retrieval_bad_data(tmp_path) -> None:
    csv = _write_set(tmp_path, {c: c for c in COLOURS})
    (tmp_path / "red.png").unlink()
    with pytest.raises(UserError, match="missing"):
        _task(csv).score(_ColourClip())
    with pytest.raises(UserError, match="does not exist"):
        _task(str(tmp_path / "nope.csv")).score(_ColourClip())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="image column"):
        _task(str(bad)).score(_ColourClip())


def _tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "vocab_size": 8, "max_position_embeddings": 8, "bos_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 8, "patch_size": 4},
        projection_dim=16,
    )
    return CLIPModel(cfg).eval()


class _TinyClipProcessor(_ColourProcessor):
    def __call__(self, images=None, text=None, **kwargs):
        if images is not None:
            return {"pixel_values": torch.tensor(np.stack([np.asarray(i, np.float32).transpose(2, 0, 1) / 255
                                                           for i in images]))}
        ids = super().__call__(text=text)["input_ids"] + 2
        return {"input_ids": torch.cat([ids, torch.ones_like(ids)], 1), "attention_mask": torch.ones(len(ids), 2,
                                                                                                      dtype=torch.long)}


def test_clip_retrieval_real_tiny_clip_model(tmp_path) -> None:
    csv = _write_set(tmp_path, {c: c for c in COLOURS})
    model = _tiny_clip()
    loaded = LoadedModel("tiny-clip", "clip", model, _TinyClipProcessor(), "clip-retrieval")
    task = ClipRetrieval(loaded, AccuracyRecipe(data=csv, batch_size=4, lr=1e-3), CPU)
    img, txt = task.encode(model, task.pairs.images, task.pairs.captions)
    i2t, t2i = recall_at_1(img, txt, task.pairs.caption_image)
    assert task.score(model) == pytest.approx((i2t + t2i) / 2)
    report = heal(model, task.supervised_objective(), 30, task.recipe, CPU)  # contrastive fine-tune
    assert np.mean(report.losses[-5:]) < np.mean(report.losses[:5])
    assert task.score(model) == 1.0  # four pairs, memorised


def test_perplexity_of_uniform_lm_is_vocab_size() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(cfg).eval()
    nn.init.zeros_(model.lm_head.weight)  # all logits 0 -> uniform next-token distribution
    with torch.no_grad():
        nll, n = token_nll(model, torch.randint(0, 50, (2, 12)))
    assert n == 22
    assert math.exp(nll / n) == pytest.approx(50, rel=1e-5)


def test_heal_lm_loss_decreases_on_tiny_llama() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(cfg)
    seqs = torch.arange(20).repeat(8, 2)[:, :16]  # a learnable pattern
    objective = HealObjective(8, lambda m, idx: m(input_ids=seqs[idx], labels=seqs[idx]).loss, "lm")
    report = heal(model, objective, 40, AccuracyRecipe(batch_size=4, lr=3e-3), CPU)
    assert report.mean_last() < 0.8 * report.mean_first()


def test_budget_scales_with_flop_ratio_and_caps() -> None:
    assert heal_steps(12, 100.0, 100.0, 10) == 0  # unpruned: no healing
    assert heal_steps(12, 100.0, 50.0, 10) == 24
    assert heal_steps(12, 100.0, 1.0, 10) == 120  # capped at 10x


def test_warmup_ends_inside_the_run() -> None:
    total = 50
    factors = [lr_factor(s, total, 0.1, "cosine") for s in range(total)]
    assert factors[4] == 1.0 and factors[0] == pytest.approx(0.2)  # 5 warm-up steps
    assert all(b <= a for a, b in itertools.pairwise(factors[4:])) and factors[-1] < 1e-9


def test_nan_loss_raises() -> None:
    model = nn.Linear(2, 2)
    objective = HealObjective(4, lambda m, idx: m(torch.ones(len(idx), 2)).sum() * float("nan"), "nan")
    with pytest.raises(FloatingPointError, match="step 1"):
        heal(model, objective, 3, AccuracyRecipe(batch_size=2), CPU)


def test_relational_loss_any_width() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(6, 8)
    assert relational_loss(teacher, teacher) == pytest.approx(0.0, abs=1e-7)
    assert relational_loss(teacher[:, :5], teacher) > 0  # different widths are fine


def test_clip_retrieval_hf_dataset_on_disk(tmp_path) -> None:
    """A `datasets.save_to_disk` folder (Arrow stream + state.json), images stored as bytes."""
    import io
    import json

    import pyarrow as pa

    images, captions = [], []
    for colour, rgb in COLOURS.items():
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), rgb).save(buf, format="PNG")
        images.append({"bytes": buf.getvalue(), "path": None})
        captions.append(f"a square of {colour}")
    table = pa.table({"image": images, "caption": captions})
    with pa.OSFile(str(tmp_path / "data-00000-of-00001.arrow"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    (tmp_path / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    assert _task(str(tmp_path)).score(_ColourClip()) == 1.0
    (tmp_path / "state.json").write_text("{}")
    with pytest.raises(UserError, match="cannot read Hugging Face dataset"):
        _task(str(tmp_path)).score(_ColourClip())
