"""Offline datasets of the accuracy branch and their fingerprints (part of the result-cache key).

- gensim 4.4.0 test data (`gensim.test.utils.datapath`): ``lee.cor`` (50 news docs, one per line),
  ``similarities0-1.txt`` (human similarity ratings of those docs: an upper-triangular 50x50 matrix, tab
  separated, ones on the diagonal, zeros below it -> 1225 unique pairs), ``lee_background.cor`` (300 unlabelled
  news docs), ``pang_lee_polarity.cor`` (200 sentences ``__label__pos|neg text``, latin-1),
  ``wordsim353.tsv`` (WordSim-353: 353 word pairs, mean human relatedness 0-10; Finkelstein et al., ACM TOIS
  2002) and ``simlex999.txt`` (SimLex-999: 999 word pairs, mean human similarity 0-10; Hill, Reichart &
  Korhonen, Computational Linguistics 2015), tab separated ``word1 word2 score`` after ``#`` comment lines.
- scikit-learn's bundled 8x8 digits (1797 images, 10 classes), split 80/20 by a fixed permutation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from catransformers.errors import UserError

LEE_DOCS = 50  # Lee et al. 2005 corpus as shipped by gensim: 50 documents
DIGITS_TEST_FRAC = 0.2
DIGITS_SPLIT_SEED = 0


def gensim_file(name: str) -> Path:
    """Path of a gensim test-data file; UserError if gensim (4.4.0) is missing."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise UserError("the offline tasks need gensim's test data; run `pip install gensim==4.4.0`") from None
    path = Path(datapath(name))
    if not path.exists():
        raise UserError(f"dataset file missing: {path} (reinstall gensim==4.4.0)")
    return path


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]


@cache
def lee_docs() -> tuple[str, ...]:
    return tuple(_lines(gensim_file("lee.cor")))


@cache
def lee_similarities() -> np.ndarray:
    """The 50x50 human similarity matrix (upper triangle holds the ratings)."""
    sims = np.loadtxt(gensim_file("similarities0-1.txt"))
    if sims.shape != (LEE_DOCS, LEE_DOCS):
        raise UserError(f"similarities0-1.txt has shape {sims.shape}, expected (50, 50); reinstall gensim==4.4.0")
    return sims


@dataclass(frozen=True)
class WordPairs:
    """A human-rated word-pair set: `left[i]`, `right[i]` and their mean rating `human[i]`."""

    name: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    human: np.ndarray


WORD_SETS = {"wordsim353": ("wordsim353.tsv", 353), "simlex999": ("simlex999.txt", 999)}


@cache
def word_pairs(name: str) -> WordPairs:
    """WordSim-353 or SimLex-999 from gensim's test data (see the module docstring)."""
    filename, expected = WORD_SETS[name]
    rows = [line.split("\t") for line in _lines(gensim_file(filename)) if not line.startswith("#")]
    try:
        left, right, human = zip(*((r[0], r[1], float(r[2])) for r in rows), strict=True)
    except (IndexError, ValueError):
        raise UserError(f"{filename} is malformed; reinstall gensim==4.4.0") from None
    if len(left) != expected:
        raise UserError(f"{filename} has {len(left)} pairs, expected {expected}; reinstall gensim==4.4.0")
    return WordPairs(name, tuple(left), tuple(right), np.array(human, dtype=float))


@cache
def background_docs() -> tuple[str, ...]:
    """300 unlabelled news documents used for distillation and perplexity."""
    return tuple(_lines(gensim_file("lee_background.cor")))


@cache
def polarity() -> tuple[tuple[str, ...], np.ndarray]:
    """Pang & Lee movie-review sentences and labels (1 = positive)."""
    texts, labels = [], []
    for line in _lines(gensim_file("pang_lee_polarity.cor")):
        tag, _, text = line.partition(" ")
        texts.append(text)
        labels.append(1 if tag == "__label__pos" else 0)
    return tuple(texts), np.array(labels, dtype=np.int64)


@dataclass(frozen=True)
class Split:
    """Train/test arrays of a classification set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@cache
def digits_split() -> Split:
    """scikit-learn digits as float32 images (N, 1, 8, 8) in [0, 1], fixed 80/20 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError("the tiny ViT task needs scikit-learn; run `pip install scikit-learn`") from None
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # pixel values 0..16 in the UCI set
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y))
    n_test = int(len(y) * DIGITS_TEST_FRAC)
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


def polarity_split() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Pang & Lee sentences, fixed 75/25 split (train texts, train labels, test texts, test labels)."""
    texts, labels = polarity()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    n_test = len(labels) // 4
    test, train = order[:n_test], order[n_test:]
    return [texts[i] for i in train], labels[train], [texts[i] for i in test], labels[test]


def fingerprint_files(*paths: Path) -> str:
    """sha256 over the bytes of small data files (names excluded, order kept)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:16]
