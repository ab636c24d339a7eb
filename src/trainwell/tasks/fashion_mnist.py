"""Fashion-MNIST (Zalando; 60k training and 10k test images, 28x28 grey, 10 balanced classes) with a small CNN.

The four original IDX ``.gz`` files are read with gzip and NumPy (no torchvision), from the first folder that
has them: ``data.path``; else ``../shared/data/fashion-mnist`` relative to the working directory or to the
repository; else ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist`` package).

Validation is the official 10k test set, as in every published Fashion-MNIST result. Set
``data.options.validation: split`` to hold out ``data.val_fraction`` of the training images instead (then
the test set is untouched). Pixels are standardised with the training images' mean and std.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainwell.errors import DataError, Problem
from trainwell.tasks import _data
from trainwell.tasks._models import small_cnn
from trainwell.tasks.base import Task, TaskFacts, classification_metrics
from trainwell.tasks.catalog import data_options, model_options

if TYPE_CHECKING:
    from trainwell.config.schema import Config

NUM_CLASSES = 10
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SHARED = Path("..") / "shared" / "data" / "fashion-mnist"
SYSTEM = Path("/usr/share/datasets/fashion-mnist")
REPO_ROOT = Path(__file__).resolve().parents[3]  # src/trainwell/tasks/ -> the checkout (editable installs)


def candidate_folders(path: str | None) -> list[Path]:
    """Where to look, in order. A ``data.path`` the user gave is the only candidate: never guess past it."""
    if path:
        return [Path(path).expanduser()]
    return list(dict.fromkeys([(Path.cwd() / SHARED).resolve(), (REPO_ROOT / SHARED).resolve(), SYSTEM]))


def _file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):  # the original .gz, or already unpacked
        if (folder / name).is_file():
            return folder / name
    return None


def find_folder(path: str | None) -> Path:
    tried = candidate_folders(path)
    for folder in tried:
        if all(_file(folder, stem) for stem in FILES.values()):
            return folder
    raise DataError(
        problems=[
            Problem(
                "data.path",
                f"must be a folder holding the four Fashion-MNIST IDX files ({', '.join(s + '.gz' for s in FILES.values())})",
                [str(p) for p in tried],
                "set data.path to the folder, put the files in ../shared/data/fashion-mnist, "
                "or `apt-get install dataset-fashion-mnist` (installs them in /usr/share/datasets/fashion-mnist)",
            )
        ]
    )


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (big-endian header: two zero bytes, type 0x08 = ubyte, ndim, then ndim int32 sizes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(problems=[Problem(str(path), "must be a readable (gzip) IDX file", type(exc).__name__, str(exc))]) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(
            problems=[Problem(str(path), "must start with the IDX ubyte magic 00 00 08", raw[:4].hex(), "re-download the file")]
        )
    ndim = raw[3]
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(
            problems=[
                Problem(
                    str(path), f"must hold {int(np.prod(shape))} bytes after its header", body.size, "the file is truncated; re-download it"
                )
            ]
        )
    return body.reshape(shape)


def load_arrays(folder: Path) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(_file(folder, stem) or folder / stem) for key, stem in FILES.items()}
    problems = [
        Problem(
            str(folder),
            f"{kind} images and labels must have the same count",
            (len(arrays[f"{kind}_images"]), len(arrays[f"{kind}_labels"])),
        )
        for kind in ("train", "test")
        if len(arrays[f"{kind}_images"]) != len(arrays[f"{kind}_labels"])
    ]
    if problems:
        raise DataError(problems=problems)
    return arrays


def build(config: Config) -> Task:
    mode = data_options(config)["validation"]  # test or split: build_task checked it (catalog.DATA_OPTION_RULES)
    arrays = load_arrays(find_folder(config.data.path))
    x, y = arrays["train_images"], arrays["train_labels"].astype(np.int64)
    if mode == "split":
        train_idx, val_idx = _data.stratified_split(y, config.data.val_fraction, config.seed)
        x_val, y_val = x[val_idx], y[val_idx]
    else:
        train_idx, x_val, y_val = np.arange(len(y)), arrays["test_images"], arrays["test_labels"].astype(np.int64)
    train_idx = _data.limit_indices(train_idx, y, config.data.limit, config.seed)
    y_train = y[train_idx]
    x_train, x_val = (a.astype(np.float32) / 255.0 for a in (x[train_idx], x_val))
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0  # one scalar: every pixel shares the scale
    scaled = [((a - mean) / std)[:, None] for a in (x_train, x_val)]  # add the channel axis: N x 1 x 28 x 28
    opts = model_options(config)
    counts = _data.class_counts(y_train, NUM_CLASSES)
    return Task(
        name="fashion-mnist",
        model=small_cnn(int(opts["channels"]), float(opts["dropout"]), NUM_CLASSES),
        train_data=_data.tensor_dataset(scaled[0], y_train),
        val_data=_data.tensor_dataset(scaled[1], y_val),
        num_classes=NUM_CLASSES,
        class_counts=counts,
        metrics=classification_metrics,
        facts=TaskFacts("cnn", "scratch", len(y_train), NUM_CLASSES, _data.imbalance(counts)),
    )
