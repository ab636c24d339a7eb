"""``write_study_report(study_dir)``: one page for a hyperparameter search, written to STUDY_DIR/report.html.

It answers the questions a search leaves: did it converge (history), which knobs mattered (importances),
where the LR sweet spot is (objective against LR), and what the best trial was (with a link to its run
report when the tuner kept its run folder).
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from trainwell.report.page import card, esc, figure, fmt, page, table
from trainwell.report.study import StudyData, importances, load_study

TOP_TRIALS = 15


def _header(study: StudyData) -> str:
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state] = states.get(t.state, 0) + 1
    best = study.best
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
    cards = [
        card("trials", str(len(study.trials)), counts),
        card(
            f"best {study.metric}",
            fmt(best.value) if best else "n/a",
            f"trial {best.number} ({study.direction})" if best else "no complete trial",
        ),
    ]
    if best:
        cards += [card(k, fmt(v)) for k, v in list(best.params.items())[:6]]
    return f'<div class="cards">{"".join(cards)}</div>'


def _plots(study: StudyData) -> str:
    from trainwell.report import plots

    blocks = []
    values = [t.value if t.state == "COMPLETE" else None for t in sorted(study.trials, key=lambda t: t.number)]
    if any(v is not None for v in values):
        fig = plots.plot_tuning_history(values, study.direction, title=f"Search history ({study.metric})")
        blocks.append(
            figure(
                fig,
                "history",
                "Each complete trial's objective and the best so far: a flat best line at the end means more trials would not help.",
            )
        )
    imp, why = importances(study)
    if imp:
        blocks.append(
            figure(
                plots.plot_param_importances(imp), "importances", f"How much of the objective's variance each parameter explains: {why}."
            )
        )
    lr = study.lr_param()
    done = study.complete
    if lr and sum(lr in t.params for t in done) >= 2:
        pts = [(float(t.params[lr]), float(t.value or 0.0)) for t in done if isinstance(t.params.get(lr), (int, float))]
        fig = plots.plot_lr_response([p[0] for p in pts], [p[1] for p in pts], study.direction, title=f"{study.metric} against {lr}")
        blocks.append(
            figure(fig, "lr response", "The objective each trial reached at its LR; usually a valley (or ridge) about one decade wide.")
        )
    out = f'<div class="plots">{"".join(blocks)}</div>' if blocks else '<p class="note">No complete trials to plot yet.</p>'
    if not imp:
        out += f'<p class="note">No importances: {esc(why)}.</p>'
    return out


def _trials(study: StudyData) -> str:
    done = sorted(study.complete, key=lambda t: float(t.value or 0.0), reverse=not study.direction.startswith("min"))
    names = list(dict.fromkeys(k for t in study.trials for k in t.params))
    rows = []
    for t in done[:TOP_TRIALS]:
        link = _run_link(study, t.run_dir)
        rows.append([esc(t.number), esc(fmt(t.value)), *(esc(fmt(t.params.get(n, ""))) for n in names), link])
    note = f'<p class="src">The {min(TOP_TRIALS, len(done))} best of {len(done)} complete trials; source: {esc(study.source)}.</p>'
    return note + table(("trial", study.metric, *names, "run"), rows, ("key", "val", *("val" for _ in names), ""))


def _run_link(study: StudyData, run_dir: str | None) -> str:
    """A relative link to a trial's run report when that file exists (links work offline; nothing is fetched)."""
    if not run_dir:
        return ""
    path = Path(run_dir) if Path(run_dir).is_absolute() else study.study_dir / run_dir
    report = path / "report.html"
    if not report.is_file():
        return esc(path.name)
    try:
        rel = os.path.relpath(report, study.study_dir)
    except ValueError:  # another drive on Windows
        rel = report.as_uri()
    return f'<a href="{esc(rel)}">{esc(path.name)}</a>'


def render_study(study: StudyData) -> str:
    sections = [
        ("summary", "", _header(study)),
        ("plots", "Search", _plots(study)),
        ("trials", "Best trials", _trials(study)),
    ]
    if study.notes:
        sections.append(("notes", "Notes", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in study.notes) + "</ul>"))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"trainwell study — {study.name}" if study.name else "trainwell study"
    return page(title, str(study.study_dir.resolve()), sections, f"Written by trainwell on {esc(stamp)} from {esc(study.study_dir)}.")


def write_study_report(study_dir: str | Path) -> Path:
    """Write STUDY_DIR/report.html (atomically) and return its path."""
    study = load_study(study_dir)
    out = study.study_dir / "report.html"
    temp = out.with_name(".report.html.tmp")
    temp.write_text(render_study(study), encoding="utf-8")
    os.replace(temp, out)
    return out
