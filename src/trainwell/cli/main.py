"""``trainwell`` entry point. Each verb lives in its own module exposing ``configure(parser)``, which adds the
verb's arguments; ``VERBS`` names the verb, its module and its one-line help. Only the verb being run has its
module imported (``trainwell doctor`` never pays for ``tune``'s imports); ``trainwell --help`` lists every verb
from ``VERBS`` alone, and ``trainwell VERB --help`` shows that verb's arguments. Modules must not import torch at
import time, so these stay fast.

A deliberate user mistake (TrainwellError) prints its problems and returns the error's exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Collection, Iterator, Sequence

# (verb, module, one-line help) in the order `--help` lists them. Add a verb by adding a row and its module.
VERBS: tuple[tuple[str, str, str], ...] = (
    ("train", "train_cmd", "train a model; with no arguments, digits with the recommended defaults"),
    ("recommend", "recommend_cmd", "recommend a full config for a task, with a reason and source for every value"),
    ("recipes", "recipes_cmd", "list and show the guides' named configurations (train one with --recipe NAME)"),
    ("lint", "lint_cmd", "check configs (trainwell, HF/TRL, LLaMA-Factory, axolotl, torchtune, Lightning, Hydra) for risky settings"),
    ("doctor", "doctor_cmd", "diagnose a training log: what went wrong, and what to change"),
    ("lr-find", "lr_find_cmd", "run the LR range test and suggest a learning rate, with reasons"),
    ("batch-find", "batch_find_cmd", "find the largest batch that fits (CUDA OOM or a CPU memory budget); prints the line to paste"),
    ("tune", "tune_cmd", "search hyperparameters in the guides' priority order (Optuna); resumable, many workers"),
    ("report", "report_cmd", "write a self-contained report.html for a run folder or a tuning study"),
    ("export", "export_cmd", "write a config in another tool's format (HF TrainingArguments JSON)"),
    ("import", "import_cmd", "read an HF training_args.json or trainer YAML into a trainwell config"),
    ("config", "config_cmd", "validate, show and explain configs"),
    ("schedule", "schedule_cmd", "print or plot the LR schedule a config produces"),
)


def build_parser(verbs: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The CLI parser, with the arguments of ``verbs`` (default: every verb). Other verbs are listed with their
    help line only: their modules are not imported (argparse needs a verb's arguments only when it parses it)."""
    from trainwell.cli.parser import VerbParser

    parser = VerbParser(
        prog="trainwell",
        description="Train PyTorch models well: validated configs, recommended hyperparameters with reasons, "
        "an engine that resumes exactly, LR and batch finders, search, diagnosis and reports.",
    )
    from trainwell import __version__

    parser.add_argument("--version", action="version", version=f"trainwell {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=VerbParser)
    for name, module, summary in VERBS:
        verb_parser = sub.add_parser(name, help=summary)
        if verbs is None or name in verbs:
            importlib.import_module(f"trainwell.cli.{module}").configure(verb_parser)
    return parser


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb a command line runs: its first word that is not an option (the top level's options, --help and
    --version, take no value), or None for ``trainwell``/``trainwell --help``."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    from trainwell.errors import TrainwellError

    words = list(argv) if argv is not None else sys.argv[1:]
    verb = chosen_verb(words)
    parser = build_parser(verbs=() if verb is None else (verb,))
    try:
        args = parser.parse_args(words)  # every mistake on the command line at once (cli/parser.VerbParser)
        args.argv = words  # what `train --nproc` hands on to torchrun
        if not getattr(args, "run", None):
            parser.print_help()
            return 0
        with notices():
            code: int = args.run(args)
        return code
    except TrainwellError as exc:
        print(f"trainwell: error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # a TrainingInterrupted says what was saved and how to go on
        print(f"trainwell: {exc}" if str(exc) else "trainwell: interrupted", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except BrokenPipeError:
        # `trainwell ... | head` closed the pipe: not an error. Point stdout at devnull so the
        # interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        from trainwell.files import is_output_error, output_error

        if not is_output_error(exc):  # not the disk or a folder's permissions: a bug, keep its traceback
            raise
        print(f"trainwell: error: {output_error(exc).render()}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def notices() -> Iterator[None]:
    """Show trainwell's notices (errors.Notice: which code a config runs, ...) as plain lines on stderr."""
    from trainwell.cli.common import plain_warnings
    from trainwell.errors import Notice

    with plain_warnings(Notice):
        yield


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
