"""`trainwell export --to hf CONFIG [overrides] [-o out.json]`: TrainingArguments-compatible JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainwell.cli.common import add_config_args, load_from_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", choices=("hf",), required=True, help="target format: hf = transformers.TrainingArguments keyword arguments")
    add_config_args(p)
    p.add_argument("-o", "--output", help="write the JSON here instead of stdout")
    p.add_argument("--hf-major", type=int, choices=(4, 5), default=None,
                   help="transformers major version to target (default: the installed one; 5 when none is)")  # fmt: skip
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from trainwell.advise.hf import to_hf

    result = to_hf(load_from_args(args), args.hf_major)
    text = json.dumps(result.data, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for note in result.notes:  # on stderr, so stdout stays valid JSON for a pipe
        print(f"note: {note}", file=sys.stderr)
    return 0
