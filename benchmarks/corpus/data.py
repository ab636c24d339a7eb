"""The corpus's datasets: fixed train pools and validation/test halves, read offline.

Every dataset returns a ``Split``: a training pool (a setting takes the first ``n_train`` rows of it, in a
fixed shuffled order) and separate validation and test sets. The split never depends on the run's seed:
the seed varies initialisation and data order only, so the seeds of one config see the same data.

- vectors (digits, breast_cancer, wine, diabetes, adult, california, teacher, teacher_skew): float32 features,
  standardised on the training pool (a CNN reads digits' 64 features as its 1 x 8 x 8 image);
- images (fashion, usps): 1 x H x W float32;
- text for models trained from scratch (sms, emotion, sst2): word ids from a vocabulary of the pool's
  most frequent words (0 = padding, 1 = unknown), cut or padded to ``max_len``;
- MiniLM: tokenised with the model's own tokenizer (fine-tuning), or the frozen encoder's pooled output
  computed once (``frozen_features``) and cached under /tmp, since a frozen encoder gives the same
  features at every step (dropout off; trainwell's ``freeze_backbone`` keeps the encoder's dropout on).

diabetes and california-housing are regression sets; here they are classification by the training
pool's target tertiles / quartiles, so every setting's metric is accuracy (regret in accuracy points).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CACHE = Path("/tmp/trainwell-corpus-cache")


@dataclass
class Split:
    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    x_test: Any
    y_test: np.ndarray
    num_classes: int
    kind: str  # vector | image | words | minilm_text | minilm_features


def _perm(n: int, salt: str) -> np.ndarray:
    seed = int(hashlib.sha1(salt.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).permutation(n)


def _three_way(x: np.ndarray, y: np.ndarray, n_val: int, n_test: int, salt: str) -> tuple[np.ndarray, ...]:
    """(pool x, pool y, val x, val y, test x, test y) from one array, after a fixed shuffle."""
    p = _perm(len(y), salt)
    x, y = x[p], y[p]
    return x[n_val + n_test :], y[n_val + n_test :], x[:n_val], y[:n_val], x[n_val : n_val + n_test], y[n_val : n_val + n_test]


def _halves(x: np.ndarray, y: np.ndarray, n_val: int, n_test: int, salt: str) -> tuple[np.ndarray, ...]:
    """Validation and test from an official test file (shuffled once, disjoint)."""
    p = _perm(len(y), salt)
    return x[p[:n_val]], y[p[:n_val]], x[p[n_val : n_val + n_test]], y[p[n_val : n_val + n_test]]


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    # A column constant on the training pool keeps scale 1 (scikit-learn's StandardScaler does the same).
    # Dividing by std + 1e-6 blew a digits pixel that is blank in every training image but inked in one
    # validation image up to 1e6: that image's loss (val_loss 30-250) drove early stopping on val_loss.
    mean, std = train.mean(0), train.std(0)
    scale = np.where(std < 1e-6, 1.0, std)
    return [((a - mean) / scale).astype(np.float32) for a in (train, *others)]


# dataset -> revision of its preparation, for datasets whose arrays changed after runs were recorded: it
# enters their settings' keys (settings._key), so exactly those settings train again.
REVISED = {"digits": "scale-1-for-constant-columns"}


def _vector(x: np.ndarray, y: np.ndarray, n_val: int, n_test: int, name: str) -> Split:
    xt, yt, xv, yv, xs, ys = _three_way(x.astype(np.float64), y, n_val, n_test, name)
    xt, xv, xs = _standardise(xt, xv, xs)
    return Split(xt, yt.astype(np.int64), xv, yv.astype(np.int64), xs, ys.astype(np.int64), int(y.max()) + 1, "vector")


def _quantile_classes(target: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    edges = np.quantile(target[pool], np.linspace(0, 1, k + 1)[1:-1])
    return np.searchsorted(edges, target, side="right")


def sklearn_set(name: str) -> Split:
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
    if name == "diabetes":
        x, target = datasets.load_diabetes(return_X_y=True)
        p = _perm(len(target), name)
        y = _quantile_classes(target, p[176:], 3)  # tertiles of the training pool's targets
        return _vector(x, y, 88, 88, name)
    x, y = loader[name](return_X_y=True)
    n_val = {"digits": 300, "breast_cancer": 114, "wine": 36}[name]
    return _vector(x, y, n_val, n_val, name)


def adult() -> Split:
    from trainwell.tasks._table import Encoder, clean_label, read_table

    train = read_table(DATA / "adult" / "adult.data", "auto", None)
    test = read_table(DATA / "adult" / "adult.test", "auto", train.columns)
    target = len(train.columns) - 1
    drop = {2}  # fnlwgt is a sampling weight, not a feature
    features = [i for i in range(target) if i not in drop]
    train_rows = [r for r in train.rows if len(r) == len(train.columns)]
    test_rows = [r for r in test.rows if len(r) == len(train.columns)]
    p = _perm(len(train_rows), "adult")
    train_rows = [train_rows[i] for i in p]
    enc = Encoder.fit(train_rows, features)
    y = np.array([clean_label(r[target]) == ">50K" for r in train_rows], dtype=np.int64)
    y_test = np.array([clean_label(r[target]) == ">50K" for r in test_rows], dtype=np.int64)
    xv, yv, xs, ys = _halves(enc.transform(test_rows), y_test, 2000, 4000, "adult-test")
    return Split(enc.transform(train_rows).astype(np.float32), y, xv.astype(np.float32), yv, xs.astype(np.float32), ys, 2, "vector")


def california() -> Split:
    import csv

    with (DATA / "california-housing" / "housing.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    num = np.array([[float(v) if v else np.nan for v in r[:8]] for r in rows])
    target = np.array([float(r[8]) for r in rows])
    cats = sorted({r[9] for r in rows})
    onehot = np.array([[float(r[9] == c) for c in cats] for r in rows])
    num[:, [2, 3, 4, 5, 6]] = np.log1p(num[:, [2, 3, 4, 5, 6]])  # block totals are heavy-tailed
    col_median = np.nanmedian(num, axis=0)
    num = np.where(np.isnan(num), col_median, num)
    x = np.concatenate([num, onehot], axis=1)
    p = _perm(len(target), "california")
    y = _quantile_classes(target, p[4000:], 4)  # quartiles of the training pool's house values
    return _vector(x, y, 2000, 2000, "california")


def teacher() -> Split:
    """A teacher-student task: 32 Gaussian features, labels from a fixed random 2-layer tanh teacher
    (8 classes, argmax of its logits), 5 % of labels flipped at random."""
    rng = np.random.default_rng(20261206)
    n, d, h, c = 30000, 32, 64, 8
    x = rng.standard_normal((n, d))
    w1 = rng.standard_normal((d, h)) / np.sqrt(d)
    w2 = rng.standard_normal((h, c)) / np.sqrt(h) * 3.0
    y = np.argmax(np.tanh(x @ w1 * 2.0) @ w2, axis=1)
    flip = rng.random(n) < 0.05
    y[flip] = rng.integers(0, c, int(flip.sum()))
    return _vector(x, y, 2000, 2000, "teacher")


def teacher_skew() -> Split:
    """An imbalanced teacher-student task (a dataset apart from ``teacher``: its own generator, width and class
    priors): 24 Gaussian features, 5 classes from a fixed random 2-layer tanh teacher whose logits carry fixed
    offsets, so the classes come at about 50/31/10/5/3 % (about 1:18); 5 % of labels
    flipped at random. It tests the class-weight rule (loss.accuracy-target) on data other than the text sets'."""
    rng = np.random.default_rng(20261207)
    n, d, h, c = 20000, 24, 48, 5
    x = rng.standard_normal((n, d))
    w1 = rng.standard_normal((d, h)) / np.sqrt(d)
    w2 = rng.standard_normal((h, c)) / np.sqrt(h) * 3.0
    logits = np.tanh(x @ w1 * 2.0) @ w2
    y = np.argmax(logits + np.array([2.2, 1.0, 0.0, -1.2, -2.0]), axis=1)
    flip = rng.random(n) < 0.05
    y[flip] = rng.integers(0, c, int(flip.sum()))
    return _vector(x, y, 2000, 2000, "teacher_skew")


def _images(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], n_val: int, n_test: int, name: str) -> Split:
    p = _perm(len(train[1]), name)
    xt, yt = train[0][p], train[1][p]
    xv, yv, xs, ys = _halves(test[0], test[1], n_val, n_test, name + "-test")
    mean, std = float(xt.mean()), float(xt.std())
    norm = [((a - mean) / std).astype(np.float32)[:, None] for a in (xt, xv, xs)]
    return Split(norm[0], yt.astype(np.int64), norm[1], yv.astype(np.int64), norm[2], ys.astype(np.int64), 10, "image")


def fashion() -> Split:
    from trainwell.tasks.fashion_mnist import find_folder, load_arrays

    a = load_arrays(find_folder(str(DATA / "fashion-mnist")))
    train = (a["train_images"].astype(np.float32) / 255.0, a["train_labels"])
    test = (a["test_images"].astype(np.float32) / 255.0, a["test_labels"])
    return _images(train, test, 2000, 2000, "fashion")


def usps() -> Split:
    def read(path: Path) -> tuple[np.ndarray, np.ndarray]:
        with gzip.open(path, "rt") as fh:
            a = np.loadtxt(fh)
        return a[:, 1:].reshape(-1, 16, 16).astype(np.float32), a[:, 0].astype(np.int64)

    return _images(read(DATA / "usps" / "zip.train.gz"), read(DATA / "usps" / "zip.test.gz"), 1000, 1000, "usps")


# ---- text -------------------------------------------------------------------------------------------

WORD = re.compile(r"[a-z0-9']+")


def _raw_text(name: str) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[str], np.ndarray, int]:
    """(pool texts, labels, val texts, labels, test texts, labels, classes)."""
    from trainwell.tasks._text_files import read_labelled

    if name == "sms":
        pairs = dict.fromkeys(  # dedupe exact repeats before splitting (the data README's advice)
            tuple(line.split("\t", 1)[::-1])
            for line in (DATA / "sms-spam" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines()
            if "\t" in line
        )
        texts = [t for t, _ in pairs]
        y = np.array([lab == "spam" for _, lab in pairs], dtype=np.int64)
        p = _perm(len(y), "sms")
        texts, y = [texts[i] for i in p], y[p]
        return texts[1200:], y[1200:], texts[:600], y[:600], texts[600:1200], y[600:1200], 2
    if name == "emotion":
        t, lab = read_labelled(DATA / "emotion" / "train.txt")
        tv, labv = read_labelled(DATA / "emotion" / "val.txt")
        ts, labs = read_labelled(DATA / "emotion" / "test.txt")
        classes = sorted(set(lab))
        enc = {c: i for i, c in enumerate(classes)}
        p = _perm(len(t), "emotion")
        y = np.array([enc[lab[i]] for i in p])
        return (
            [t[i] for i in p],
            y,
            tv[:1000],
            np.array([enc[c] for c in labv[:1000]]),
            ts[:1000],
            np.array([enc[c] for c in labs[:1000]]),
            6,
        )
    t, lab = read_labelled(DATA / "sst2-glue" / "train.tsv")
    td, labd = read_labelled(DATA / "sst2-glue" / "dev.tsv")
    p = _perm(len(t), "sst2")
    q = _perm(len(td), "sst2-dev")
    y = np.array([int(lab[i]) for i in p])
    yd = np.array([int(labd[i]) for i in q])
    dev = [td[i] for i in q]
    return [t[i] for i in p], y, dev[:436], yd[:436], dev[436:], yd[436:], 2


def _ids(texts: list[str], vocab: dict[str, int], max_len: int) -> np.ndarray:
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for i, text in enumerate(texts):
        ids = [vocab.get(w, 1) for w in WORD.findall(text.lower())][:max_len]
        out[i, : len(ids)] = ids or [1]
    return out


@functools.cache
def words(name: str, n_train: int, max_len: int, vocab_size: int = 5000) -> Split:
    """Word ids for a model trained from scratch; the vocabulary comes from the n_train training texts."""
    t, y, tv, yv, ts, ys, c = _raw_text(name)
    t, y = t[:n_train], y[:n_train]
    counts = Counter(w for text in t for w in WORD.findall(text.lower()))
    vocab = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(vocab_size - 2))}
    return Split(_ids(t, vocab, max_len), y, _ids(tv, vocab, max_len), yv, _ids(ts, vocab, max_len), ys, c, "words")


@functools.cache
def minilm_text(name: str, n_train: int, max_len: int, n_val: int, n_test: int) -> tuple[Split, Any]:
    """Raw texts (tokenised per run by the caller with MiniLM's tokenizer) and the tokenizer."""
    t, y, tv, yv, ts, ys, c = _raw_text(name)
    return Split(t[:n_train], y[:n_train], tv[:n_val], yv[:n_val], ts[:n_test], ys[:n_test], c, "minilm_text"), max_len


@functools.cache
def frozen_features(name: str, n_train: int, max_len: int, n_eval: int = 500) -> Split:
    """The frozen MiniLM's pooled output for every text, computed once (eval mode) and cached on disk
    (under a file lock: two workers wanting the same features wait for one to compute them)."""
    import fcntl

    t, y, tv, yv, ts, ys, c = _raw_text(name)
    t, y, tv, yv, ts, ys = t[:n_train], y[:n_train], tv[:n_eval], yv[:n_eval], ts[:n_eval], ys[:n_eval]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"minilm-{name}-{n_train}-{max_len}-{n_eval}.npz"
    with (CACHE / (path.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            _encode(t, tv, ts, c, max_len, path)
    z = np.load(path)
    return Split(z["a"], y, z["b"], yv, z["c"], ys, c, "minilm_features")


def _encode(t: list[str], tv: list[str], ts: list[str], c: int, max_len: int, path: Path) -> None:
    import torch

    from trainwell.tasks.text import load_minilm

    tokenizer, model = load_minilm(c, 0.0)
    model.eval()
    feats = []
    for texts in (t, tv, ts):
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                enc = tokenizer(texts[i : i + 64], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
                out.append(model.base_model(**enc).pooler_output.numpy())
        feats.append(np.concatenate(out).astype(np.float32))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, a=feats[0], b=feats[1], c=feats[2])
    tmp.replace(path)


def labels(name: str, n_train: int) -> tuple[np.ndarray, int]:
    """The training labels of a text set and its class count, without encoding anything."""
    _, y, _, _, _, _, c = _raw_text(name)
    return y[:n_train], c


LOADERS = {
    "digits": lambda: sklearn_set("digits"),
    "breast_cancer": lambda: sklearn_set("breast_cancer"),
    "wine": lambda: sklearn_set("wine"),
    "diabetes": lambda: sklearn_set("diabetes"),
    "adult": adult,
    "california": california,
    "teacher": teacher,
    "teacher_skew": teacher_skew,
    "fashion": fashion,
    "usps": usps,
}


@functools.cache
def vectors_or_images(name: str) -> Split:
    return LOADERS[name]()
