"""``write_study_report(study_dir)``: one page for a hyperparameter search, written to STUDY_DIR/report.html.

It answers the questions a search leaves: did it converge (history), which knobs mattered (importances),
where the LR sweet spot is (objective against LR), which trials were best (with links to their run
reports when those exist), and what won after the re-runs over seeds, with the reason for each value.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from trainwell.report.page import bullets, card, esc, figure, fmt, footer, page, table, write_page
from trainwell.report.study import StudyData, Trial, importances, load_study

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP_TRIALS = 15
CAPTIONS = {
    "history": "Each complete trial's objective and the best so far: a best line that went flat long ago means more trials would not help.",
    "importances": "How much of the objective's variance each parameter explains",
    "lr": "The objective each complete trial reached at its LR; the good region is usually about one decade wide.",
}


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
        cards += [card(k, fmt(v), "best trial") for k, v in list(best.params.items())[:6]]
    return f'<div class="cards">{"".join(cards)}</div>'


def study_figures(study: StudyData) -> tuple[dict[str, tuple[Figure, str]], list[str]]:
    """The study's plots by name (history, importances, lr_response; each only when there is something to
    draw) with their captions, and a note for each one left out. The report embeds them and ``trainwell
    tune`` saves them as PNGs: one drawing of each."""
    from trainwell.report import plots

    figures: dict[str, tuple[Figure, str]] = {}
    notes: list[str] = []
    values = [t.value if t.state == "COMPLETE" else None for t in sorted(study.trials, key=lambda t: t.number)]
    if any(v is not None for v in values):
        fig = plots.plot_tuning_history(values, study.direction, title=f"Search history ({study.metric})")
        figures["history"] = (fig, CAPTIONS["history"])
    imp, why = importances(study)
    if imp:
        figures["importances"] = (plots.plot_param_importances(imp), f"{CAPTIONS['importances']}: {why}.")
    else:
        notes.append(f"No importances: {why}.")
    lr = study.lr_param()
    pts = [(float(t.params[lr]), float(t.value or 0.0)) for t in study.complete if lr and isinstance(t.params.get(lr), (int, float))]
    if lr and len(pts) >= 2:
        fig = plots.plot_lr_response([p[0] for p in pts], [p[1] for p in pts], study.direction, title=f"{study.metric} against {lr}")
        figures["lr_response"] = (fig, CAPTIONS["lr"])
    return figures, notes


Drawn = tuple[dict[str, tuple["Figure", str]], list[str]]  # what study_figures returns


def _plots(drawn: Drawn) -> str:
    figures, notes = drawn
    blocks = [figure(fig, name.replace("_", " "), caption) for name, (fig, caption) in figures.items()]
    out = f'<div class="plots">{"".join(blocks)}</div>' if blocks else '<p class="note">No complete trials to plot yet.</p>'
    return out + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)


def _trial_row(study: StudyData, t: Trial, names: list[str], staged: bool) -> list[str]:
    stage = [esc(t.stage)] if staged else []
    return [esc(t.number), *stage, esc(fmt(t.value)), *(esc(fmt(t.params.get(n, ""))) for n in names), _run_link(study, t.run_dir)]


def _trials(study: StudyData) -> str:
    done = sorted(study.complete, key=lambda t: float(t.value or 0.0), reverse=not study.direction.startswith("min"))
    names = list(dict.fromkeys(k for t in study.trials for k in t.params))
    staged = any(t.stage for t in study.trials)
    rows = [_trial_row(study, t, names, staged) for t in done[:TOP_TRIALS]]
    note = f'<p class="src">The {min(TOP_TRIALS, len(done))} best of {len(done)} complete trials; source: {esc(study.source)}.</p>'
    header = ("trial", *(["stage"] if staged else []), study.metric, *names, "run")
    classes = ("", *([""] if staged else []), "val", *("val" for _ in names), "val")
    return note + table(header, rows, classes)


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


def _winner(study: StudyData) -> str:
    """Finalists re-run over seeds (best mean wins), the winning values with their reasons, and how to train it."""
    out = ""
    if study.finalists:
        rows = [
            [
                esc(f.get("trial")),
                esc(f"{fmt(f.get('mean'))} ± {fmt(f.get('std'))}"),
                esc(fmt(f.get("values", []))),
                esc(fmt(f.get("params", {}))),
            ]
            for f in study.finalists
        ]
        out += "<h3>Finalists</h3><p>The top trials were re-run with further seeds; the best mean wins, a tie goes to the steadier one.</p>"
        out += table(("trial", f"mean {study.metric} ± std", "per seed", "params"), rows, ("key", "val", "val", ""))
    if study.reasons:
        rows = [
            [
                esc(r["field"]),
                esc(fmt(r.get("value"))),
                f'{esc(r.get("why", ""))}<div class="src">{esc(r.get("rule", ""))} · {esc(r.get("source", ""))}</div>',
            ]
            for r in study.reasons
        ]
        out += "<h3>Winning values and why</h3>" + table(("setting", "value", "why"), rows, ("key", "val", ""))
    best_config = study.study_dir / "best_config.yaml"
    if best_config.is_file():
        out += f"<p>Train the winning configuration:</p><pre>{esc('trainwell train ' + shlex.quote(str(best_config)))}</pre>"
    return out


def render_study(study: StudyData, drawn: Drawn | None = None) -> str:
    """The page's HTML; ``drawn`` is ``study_figures(study)`` when the caller has drawn them already."""
    plots = _plots(drawn or study_figures(study))
    sections = [("summary", "", _header(study)), ("plots", "Search", plots), ("trials", "Best trials", _trials(study))]
    winner = _winner(study)
    if winner:
        sections.append(("winner", "Winner", winner))
    if study.notes:
        sections.append(("notes", "Notes", bullets(study.notes)))
    title = f"trainwell study — {study.name}" if study.name else "trainwell study"
    return page(title, str(study.study_dir.resolve()), sections, footer(study.study_dir))


def write_study_report(study_dir: str | Path, plots_dir: str | Path | None = None) -> Path:
    """Write STUDY_DIR/report.html (atomically) and return its path; with ``plots_dir``, also each plot as
    NAME.png there (``trainwell tune`` writes RUN_DIR/plots/ this way: the same figures as the page)."""
    study = load_study(study_dir)
    drawn = study_figures(study)
    if plots_dir is not None:
        folder = Path(plots_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, (fig, _) in drawn[0].items():
            fig.savefig(folder / f"{name}.png", dpi=100)
    return write_page(study.study_dir / "report.html", render_study(study, drawn))
