"""``trainwell`` entry point. Each verb lives in its own module exposing ``register(subparsers)``;
modules must not import torch at import time, so ``trainwell --help`` stays fast.

A deliberate user mistake (TrainwellError) prints its problems and returns the error's exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Iterator, Sequence

# (verb module) in the order `--help` lists them. Add a verb by adding its module here.
VERBS: tuple[str, ...] = (
    "train_cmd",
    "recommend_cmd",
    "recipes_cmd",
    "lint_cmd",
    "doctor_cmd",
    "lr_find_cmd",
    "batch_find_cmd",
    "tune_cmd",
    "report_cmd",
    "export_cmd",
    "import_cmd",
    "config_cmd",
    "schedule_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainwell",
        description="Train PyTorch models well: validated configs, recommended hyperparameters with reasons, "
        "an engine that resumes exactly, LR and batch finders, search, diagnosis and reports.",
    )
    from trainwell import __version__

    parser.add_argument("--version", action="version", version=f"trainwell {__version__}")
    from trainwell.cli.common import VerbParser

    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=VerbParser)
    for name in VERBS:
        importlib.import_module(f"trainwell.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from trainwell.errors import TrainwellError

    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # what `train --nproc` hands on to torchrun
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
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
