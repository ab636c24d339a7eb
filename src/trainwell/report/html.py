"""``write_report(run_dir)``: the one-page story of a run, written to RUN_DIR/report.html.

Order on the page: what happened (header cards), how it went (plots), what the doctor says, which values
were used and why (config table), and how to run it again (environment, reproduce command). No torch
import: the engine calls this at the end of every run, and ``trainwell report`` on a laptop without torch
must work too.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from trainwell.doctor import diagnose
from trainwell.errors import MissingDependencyError, TrainwellError
from trainwell.report.page import badge, bullets, card, duration, esc, figure, finding_block, fmt, footer, page, table, write_page
from trainwell.report.rundata import RunData, best_eval, diagnosis, finite, flatten, load_run

# Shown in the main config table even at their defaults: the values a reader checks first.
KEY_FIELDS = (
    "task", "seed", "optimizer.name", "optimizer.lr", "optimizer.weight_decay", "schedule.name", "schedule.warmup",
    "batch.size", "batch.accumulation", "training.epochs", "training.max_steps", "training.max_grad_norm",
    "training.precision", "evaluation.metric", "evaluation.mode", "early_stopping.patience", "loss.name",
)  # fmt: skip


def _best(run: RunData) -> tuple[Any, Any]:
    """(best value, step) from the summary, else from the log."""
    if finite(run.summary.get("best_metric")):
        return run.summary["best_metric"], run.summary.get("best_step")
    row = best_eval(run.evals, run.metric, run.mode)
    return (row[run.metric], row["step"]) if row else (None, None)


def _wall_time(run: RunData) -> Any:
    if finite(run.summary.get("wall_time_s")):
        return run.summary["wall_time_s"]
    times = [r["time"] for r in (*run.train, *run.evals) if finite(r.get("time"))]
    return max(times) - min(times) if len(times) > 1 else None


def _length_note(summary: dict[str, Any]) -> str:
    """'of 900 planned, 16 epochs': how far the run got against its plan."""
    parts = []
    if finite(summary.get("total_steps")):
        parts.append(f"of {fmt(summary['total_steps'])} planned")
    if finite(summary.get("epochs")):
        parts.append(f"{float(summary['epochs']):.3g} epochs")
    return ", ".join(parts)


def _passed_model(run: RunData) -> dict[str, Any] | None:
    """summary.json's ``model`` for a run whose model was passed to trainwell.train(), else None."""
    from trainwell.tasks.passed import PASSED

    if run.config.get("task") != PASSED:
        return None
    model = run.summary.get("model")
    return model if isinstance(model, dict) else {}


def _label(run: RunData) -> str:
    """What the run trained, for the title: the task, or the class of a model passed to train()."""
    model = _passed_model(run)
    if model is None:
        return str(run.config.get("task", "run"))
    return f"{str(model.get('class', 'a model')).rsplit('.', 1)[-1]} (passed to trainwell.train)"


def _task_card(run: RunData) -> str:
    model = _passed_model(run)
    if model is None:
        return card("task", str(run.config.get("task", "unknown")))
    size = f"{model['parameters']:,} parameters" if finite(model.get("parameters")) else ""
    return card("model passed to train()", str(model.get("class", "unknown")), size)


def _header(run: RunData) -> str:
    status = str(run.summary.get("status") or "unfinished")
    kind = {"completed": "ok", "stopped": "ok", "diverged": "bad", "failed": "bad"}.get(status, "warn")  # engine's Stop statuses
    value, step = _best(run)
    best = f"{fmt(value)}" if value is not None else "n/a"
    steps = run.summary.get("steps", run.last_step)
    cards = [
        _task_card(run),
        card(f"best {run.metric}", best, f"at step {fmt(step)} ({run.mode} is better)" if step is not None else ""),
        card(
            "duration",
            duration(_wall_time(run)),
            f"{run.summary['samples_per_s']:,.0f} samples/s" if finite(run.summary.get("samples_per_s")) else "",
        ),
        card("steps", fmt(steps) if steps is not None else "n/a", _length_note(run.summary)),
    ]
    batch = run.summary.get("batch")
    if isinstance(batch, dict) and "effective" in batch:  # one fact: size x accumulation x processes
        parts = f"{batch['size']} per process x {batch['accumulation']} accumulation x {batch['processes']} process(es)"
        cards.append(card("effective batch", fmt(batch["effective"]), parts))
    final = run.summary.get("final")
    if isinstance(final, dict) and final:
        shown = [f"{k} {fmt(v)}" for k, v in final.items() if k != run.metric][:3]
        value = final.get(run.metric)
        cards.append(card(f"final model {run.metric}", fmt(value) if value is not None else "n/a", ", ".join(shown)))
    reason = run.summary.get("stop_reason") or "no summary.json: the run did not finish (crashed or was killed)"
    stop = f"<p>{badge(status, kind)} <strong>Why training stopped:</strong> {esc(reason)}</p>"
    return stop + f'<div class="cards">{"".join(cards)}</div>'


def _plots(run: RunData) -> str:
    from trainwell.report.runplots import ordered

    blocks = []
    try:
        for name, spec in ordered():
            fig = spec.build(run)
            if fig is not None:
                blocks.append(figure(fig, alt=name, caption=spec.caption_for(run)))
    except MissingDependencyError as exc:  # matplotlib is a dependency; an install without it still gets the rest
        return f'<p class="note">No plots: {esc(str(exc))}. The tables below do not need it.</p>'
    if not blocks:
        return '<p class="note">Nothing to plot: metrics.jsonl has no train or eval rows yet.</p>'
    return f'<div class="plots">{"".join(blocks)}</div>'


def _diagnose(run: RunData) -> tuple[dict[str, Any] | None, str]:
    """The diagnosis from findings.json, else from running the doctor on the folder now; (None, why) if neither."""
    if run.diagnosis is not None:
        return run.diagnosis, "from findings.json, written by the live doctor at the end of the run"
    try:
        result = diagnose(run.run_dir)
    except (TrainwellError, TypeError, ValueError) as exc:  # the report must not fail because a check did
        return None, f"The doctor could not read this run: {exc}"
    return diagnosis(result.to_dict()), "diagnosed by `trainwell doctor` when this report was written (no findings.json)"


def _findings(run: RunData) -> str:
    data, where = _diagnose(run)
    if data is None:
        return f'<p class="note">{esc(where)}</p>'
    items, skipped = data["findings"], data["skipped"]
    if items:
        out = "".join(finding_block(f) for f in items)
    elif skipped:
        out = f"<p>{badge('nothing found', 'info')} No check fired, but {len(skipped)} could not run on this log (below).</p>"
    else:
        out = f"<p>{badge('healthy', 'ok')} The doctor ran every check and found nothing to fix.</p>"
    if skipped:
        rows = [[esc(name), esc(why)] for name, why in skipped.items()]
        out += table(("check not run", "why"), rows, ("key", ""))
    notes = [str(n) for n in data["notes"]]
    return out + f'<p class="src">{esc("; ".join([where, *notes]))}</p>'


def _defaults() -> dict[str, Any]:
    from trainwell.config import Config, to_dict

    return dict(flatten(to_dict(Config())))


def _help() -> dict[str, str]:
    from trainwell.config import Config, field_help

    return {path: text for path, text, _ in field_help(Config)}


def _config_row(key: str, value: Any, run: RunData, defaults: dict[str, Any], helps: dict[str, str]) -> list[str]:
    why = run.reasons.get(key)
    meaning = helps.get(key, "")
    if why:
        source = " · ".join(esc(why[k]) for k in ("rule", "source") if why.get(k))
        reason = f'{badge("recommended", "ok")} <span class="why">{esc(why.get("why", ""))}</span>' + (
            f'<div class="src">{source}</div>' if source else ""
        )
    elif key in defaults and defaults[key] != value:
        reason = f'{badge("set", "info")} <span class="src">{esc(meaning)}</span>'
    else:
        reason = f'<span class="src">default · {esc(meaning)}</span>'
    return [f'<span title="{esc(meaning)}">{esc(key)}</span>', esc(fmt(value)), reason]


def _config(run: RunData) -> str:
    if not run.config:
        return '<p class="note">No config.yaml in the run folder.</p>'
    defaults, helps = _defaults(), _help()
    rows = flatten(run.config)
    main = [(k, v) for k, v in rows if k in KEY_FIELDS or k in run.reasons or (k in defaults and defaults[k] != v)]
    rest = [(k, v) for k, v in rows if (k, v) not in main]
    header, cls = ("setting", "value", "why"), ("key", "val", "")
    out = table(header, (_config_row(k, v, run, defaults, helps) for k, v in main), cls)
    if rest:
        inner = table(header, (_config_row(k, v, run, defaults, helps) for k, v in rest), cls)
        out += f"<details><summary>{len(rest)} more settings at their defaults</summary>{inner}</details>"
    n = sum(1 for k, _ in rows if k in run.reasons)
    note = (
        f"{n} value{'s' if n != 1 else ''} set by the recommender, each with its rule and source."
        if n
        else "No reasons.json: no value here came from `trainwell recommend`."
    )
    return f'<p class="src">{esc(note)}</p>' + out


def _resumed_with_changes(changes: list[dict[str, Any]]) -> str:
    """A run resumed with changes is not retraced by its final config.yaml alone: say what changed where."""
    rows = [[esc(fmt(c.get("step"))), esc(str(c.get("field"))), esc(fmt(c.get("old"))), esc(fmt(c.get("new")))] for c in changes]
    return (
        "<p>This run was resumed with changes, listed below. config.yaml holds the values after the last change, so "
        "training it from scratch does not retrace this run: that takes the earlier values up to each step shown, "
        "then <code>trainwell train --resume RUN key=value</code> from that step's checkpoint.</p>"
        + table(("from step", "setting", "before", "after"), rows, ("val", "key", "val", "val"))
    )


def _reproduce_passed(model: dict[str, Any], data: Any) -> str:
    """A model passed to train() has no command that rebuilds it: say what it was and what reproducing takes."""
    size = f", {model['parameters']:,} parameters" if finite(model.get("parameters")) else ""
    items = data if isinstance(data, dict) else {}
    sizes = ", ".join(f"{fmt(items[k])} {k.split('_')[0]} items" for k in ("train_items", "val_items") if finite(items.get(k)))
    return (
        f"<p>This run trained a model passed to <code>trainwell.train()</code> ({esc(str(model.get('class', 'unknown')))}{esc(size)})"
        f"{esc(' on ' + sizes if sizes else '')}. No command rebuilds that model and data, so none is offered: reproducing "
        'the run takes <code>trainwell.train("RUN/config.yaml", model=..., train_data=..., val_data=...)</code> with the '
        "same model class built the same way (its initial weights came from your code, before trainwell seeded) and the "
        "same datasets; the seed in config.yaml then gives the same data order.</p>"
    )


def _environment(run: RunData) -> str:
    config_path = run.run_dir / "config.yaml"
    command = f"trainwell train {shlex.quote(str(config_path))}"
    changes = run.summary.get("resume_changes")
    model = _passed_model(run)
    if model is not None:
        out = _reproduce_passed(model, run.summary.get("data"))
    elif isinstance(changes, list) and changes:
        out = _resumed_with_changes(changes)
    else:
        out = f"<p>Reproduce this run (same config, seed and data order):</p><pre>{esc(command)}</pre>"
    if run.environment:
        rows = [[esc(k), esc(fmt(v))] for k, v in run.environment.items()]
        out += table(("environment", "value"), rows, ("key", ""))
    else:
        out += '<p class="note">No environment.json in the run folder.</p>'
    return out


def render_run(run: RunData) -> str:
    """The report's HTML for a loaded run (no files written)."""
    sections = [
        ("summary", "", _header(run)),
        ("curves", "Curves", _plots(run)),
        ("doctor", "Doctor's findings", _findings(run)),
        ("config", "Config", _config(run)),
        ("environment", "Environment and reproduce", _environment(run)),
    ]
    if run.notes:
        sections.append(("notes", "What this report could not read", bullets(run.notes)))
    version = str(run.environment.get("trainwell") or _version())
    return page(f"trainwell report — {_label(run)}", str(run.run_dir.resolve()), sections, footer(run.run_dir, version))


def _version() -> str:
    from trainwell import __version__

    return __version__


def write_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report.html (atomically) and return its path."""
    run = load_run(run_dir)
    return write_page(run.run_dir / "report.html", render_run(run))
