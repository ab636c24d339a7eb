"""The peak learning rate as a law of the model and the run, instead of one guide value per table row.

    log lr = c[group] + s_width[opt, mode] · log(width / width₀)
                      + s_horizon[opt, mode] · log(steps / steps₀)
                      + s_batch[opt] · log(batch / batch₀)

``group`` is (family, mode, optimizer kind), e.g. ``mlp/scratch/adam``; its *anchor* is the guide value
the seeds give for that context together with the batch, width and run length (optimizer steps) that
value belongs to. Each term is zero at the anchor, so with no width or horizon known the law returns the
guide's value rescaled to your batch. The form:

- **Anchors** (``c``) are the seeds' values: 001 §Learning Rate (AdamW from scratch 1e-3, SGD 0.01/0.1),
  001 §Quick Reference (ResNet-50 0.1 at batch 256, BERT fine-tuning 2e-5 at batch 32, ViT 1e-3 at 1024,
  GPT 3e-4 at 512), 004 §LR Ranges by Model Type (transformer from scratch 3e-4-1e-4, transfer 1e-4,
  frozen head 1e-3). The width and run length each anchor was tuned at are not in the guides; the
  table records the value assumed (BERT/GPT-2 small: d_model 768) and why.
- **Width** (μP): with Adam, the LR of hidden layers scales as 1/width (Yang et al. 2022, "Tensor
  Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter Transfer", Table 3), and in the
  standard parametrisation a single global Adam LR's optimum moves the same way (their Fig. 1), so a
  model of width 64 trained from scratch wants ~12x the LR of a width-768 one. With SGD μP keeps the
  hidden-layer LR constant in width: slope 0. Fine-tuning pretrained weights keeps slope 0 in the prior:
  published fine-tuning grids are the same for base and large models (BERT, Devlin et al. 2019 §A.3;
  RoBERTa, Liu et al. 2019 Table 10).
- **Horizon** (optimizer steps): shorter runs need and tolerate a higher peak LR; the optimum follows a
  power law of the horizon (Bjorck et al. 2025, "Scaling Optimal LR Across Token Horizons", ICLR). For
  fine-tuning the prior slope -0.5 is the one that puts the seeds' own fine-tuning anchors on one line
  (001's 2e-5 for BERT's 3 epochs, 000's 3e-5 for short runs, 003's "lower the LR as epochs increase",
  and trainwell's measured 1e-4 for a 25-step SST-2 run: benchmarks/recommend.py). From scratch with
  Adam the prior is a weaker -0.25 (no seed anchors it); for SGD 0, as Goyal et al. 2017 keep 0.1 x
  k/256 across budgets.
- **Batch**: linear for SGD (Goyal et al. 2017; 001 §Batch Size), square root for Adam (Malladi et al.
  2022), the same rule as :mod:`trainwell.optim.scaling`.

The constants live in ``lr_law.json`` next to this module (package data): each says whether it is a
*prior* (the values above) or *fitted* (leave-one-dataset-out on the calibration corpus, with the git
revision and command that fitted it). :func:`lr_features` is the one place the feature vector is built,
for prediction here and for the fit script (benchmarks/corpus), so the two cannot drift apart. Torch-free.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from trainwell.errors import ConfigError, Problem

TABLE_FILE = "lr_law.json"
# Optimizer kinds by how their step scales with the gradient (trainwell.optim.scaling's families).
KINDS = {"adam": "adam", "adamw": "adam", "sgd": "sgd", "rmsprop": "sgd"}


@dataclass(frozen=True)
class Anchor:
    """One guide value and the context it was tuned in."""

    lr: float
    batch: int
    width: int
    steps: int
    source: str


@dataclass(frozen=True)
class LawTable:
    """The law's constants: anchors (centering), coefficients (``intercept:<group>`` and the slopes) and provenance."""

    status: str  # "prior" | "fitted"
    coefficients: dict[str, float]
    anchors: dict[str, Anchor]
    caps: dict[str, tuple[float, float]]  # "<kind>:<mode>" -> (low, high) the recommender clips to
    sources: dict[str, str]  # coefficient or cap name -> where its value comes from
    git_revision: str | None = None
    command: str | None = None
    fitted_on: list[str] = field(default_factory=list)
    note: str = ""
    # group -> {"evidence": results file and key, "why": measured regrets}: where the corpus shows the range
    # test beating the law, the recommender measures instead (optimizer.lr: find, the law as fallback).
    measure: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LawTable:
        anchors = {k: Anchor(**v) for k, v in data["anchors"].items()}
        caps = {k: (float(v[0]), float(v[1])) for k, v in data.get("caps", {}).items()}
        return cls(
            status=str(data["status"]),
            coefficients={k: float(v) for k, v in data["coefficients"].items()},
            anchors=anchors,
            caps=caps,
            sources=dict(data.get("sources", {})),
            git_revision=data.get("git_revision"),
            command=data.get("command"),
            fitted_on=list(data.get("fitted_on", [])),
            note=str(data.get("note", "")),
            measure={k: dict(v) for k, v in data.get("measure", {}).items()},
        )

    def provenance(self) -> str:
        """How a reason names these constants: prior or fitted, on what, by which command."""
        if self.status != "fitted":
            return "prior constants, not fitted: seed anchors and literature slopes (trainwell/advise/lr_law.json)"
        on = f" on {len(self.fitted_on)} corpus settings" if self.fitted_on else ""
        rev = f" at {self.git_revision[:10]}" if self.git_revision else ""
        cmd = f" by `{self.command}`" if self.command else ""
        # fitted on every setting; only the scores in benchmarks/results/corpus_lr_law.json are held out by dataset
        return f"constants fitted{on}{rev}{cmd}, scored leave-one-dataset-out (trainwell/advise/lr_law.json)"


def load_table(path: str | Path | None = None) -> LawTable:
    """The shipped table, or the one at ``path`` (the fit script checks a candidate this way)."""
    if path is None:
        return _shipped()
    return LawTable.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def prior_table() -> LawTable:
    """The guides' constants (seed anchors, literature slopes) that the corpus fit started from: the shipped
    file keeps them as ``prior_coefficients`` once fitted. The law's form is tested on them. Where to measure
    instead (``measure``) is a corpus decision, so the prior has none."""
    data = json.loads(resources.files("trainwell.advise").joinpath(TABLE_FILE).read_text(encoding="utf-8"))
    if "prior_coefficients" in data:
        data = {**data, "status": "prior", "coefficients": data["prior_coefficients"], "git_revision": None, "command": None}
    return LawTable.from_dict({**data, "measure": {}})


@lru_cache(maxsize=1)
def _shipped() -> LawTable:
    text = resources.files("trainwell.advise").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return LawTable.from_dict(json.loads(text))


def kind_of(optimizer: str) -> str:
    kind = KINDS.get(optimizer)
    if kind is None:
        raise ConfigError(
            problems=[
                Problem(
                    "optimizer.name",
                    "the LR law has constants for adam, adamw, sgd and rmsprop only",
                    optimizer,
                    "set optimizer.lr yourself",
                )
            ]
        )
    return kind


def group_of(family: str, mode: str, optimizer: str, table: LawTable | None = None) -> str:
    """The anchor group: ``family/mode/kind`` when the table has it, else ``*/mode/kind``."""
    table = table or load_table()
    kind = kind_of(optimizer)
    for key in (f"{family}/{mode}/{kind}", f"{family}/*/{kind}", f"*/{mode}/{kind}", f"*/*/{kind}"):
        if key in table.anchors:
            return key
    raise ConfigError(
        problems=[Problem("lr law", "has no anchor for this context", f"{family}/{mode}/{kind}", "add an anchor to lr_law.json")]
    )


def _log_ratio(value: float | None, reference: float) -> float:
    return 0.0 if value is None else math.log(value / reference)


def lr_features(
    family: str,
    mode: str,
    optimizer: str,
    *,
    width: int | None,
    steps: int | None,
    batch: int,
    table: LawTable | None = None,
) -> dict[str, float]:
    """The law's feature vector: ``{"intercept:<group>": 1, "width:<kind>:<mode>": log(w/w₀), ...}``.

    log lr = Σ coefficient[name] · value. An unknown width or horizon contributes 0 (the anchor's own).
    The fit script regresses log(sweep-best LR) on these features; prediction multiplies the same ones
    by the table's coefficients (:func:`predict`).
    """
    table = table or load_table()
    group = group_of(family, mode, optimizer, table)
    anchor = table.anchors[group]
    kind = kind_of(optimizer)
    return {
        f"intercept:{group}": 1.0,
        f"width:{kind}:{mode}": _log_ratio(width, anchor.width),
        f"horizon:{kind}:{mode}": _log_ratio(steps, anchor.steps),
        f"batch:{kind}": _log_ratio(batch, anchor.batch),
    }


@dataclass(frozen=True)
class LawLR:
    """The law's LR for one context, each factor named, and the constants' provenance."""

    lr: float  # after the cap
    raw: float  # before the cap
    base: float  # exp(intercept): the anchor's LR, or the fitted one
    group: str
    anchor: Anchor
    factors: dict[str, float]  # "width" / "horizon" / "batch" -> multiplier on the anchor
    cap: tuple[float, float] | None
    status: str
    provenance: str

    @property
    def capped(self) -> bool:
        return self.lr != self.raw

    def explain(self, cap_note: bool = True) -> str:
        """'1e-3 at batch 32 (001 …) x 2 (width 128 vs 256) x 0.71 (batch 16 vs 32) = 1.4e-3'."""
        a = self.anchor
        guide = f"{a.lr:g}: {a.source}" if self.status != "fitted" else f"fitted {self.base:.3g}; the guide's {a.lr:g}: {a.source}"
        terms = [f"{self.base:.3g} ({self.group} at batch {a.batch}, width {a.width}, {a.steps} steps; {guide})"]
        for name, factor in self.factors.items():
            if abs(factor - 1) > 1e-9:
                terms.append(f"x {factor:.3g} ({name})")
        text = " ".join(terms) + f" = {self.raw:.3g}"
        if cap_note and self.capped and self.cap is not None:
            side = "above" if self.raw > self.cap[1] else "below"
            text += f"; {side} the guides' band {self.cap[0]:g}-{self.cap[1]:g}, so {self.lr:.3g} (run lr-find to go further)"
        return text


def predict(
    family: str,
    mode: str,
    optimizer: str,
    *,
    width: int | None = None,
    steps: int | None = None,
    batch: int = 32,
    table: LawTable | None = None,
) -> LawLR:
    """The law's peak LR for this context (3 significant digits), clipped to the table's band for it."""
    table = table or load_table()
    features = lr_features(family, mode, optimizer, width=width, steps=steps, batch=batch, table=table)
    missing = [k for k, v in features.items() if v != 0.0 and k not in table.coefficients]
    if missing:
        raise ConfigError(problems=[Problem("lr law", "has no coefficient for", ", ".join(missing), "refit or extend lr_law.json")])
    group = next(k.split(":", 1)[1] for k in features if k.startswith("intercept:"))
    factors: dict[str, float] = {}
    base = math.exp(table.coefficients[f"intercept:{group}"])
    log_lr = 0.0
    for name, value in features.items():
        term = table.coefficients.get(name, 0.0) * value
        log_lr += term
        if not name.startswith("intercept:"):
            factors[name.split(":", 1)[0]] = math.exp(term)
    raw = float(f"{math.exp(log_lr):.3g}")
    cap = table.caps.get(f"{kind_of(optimizer)}:{mode}")
    lr = raw if cap is None else float(f"{min(max(raw, cap[0]), cap[1]):.3g}")
    return LawLR(lr, raw, base, group, table.anchors[group], factors, cap, table.status, table.provenance())
