"""`trainwell import FILE [-o config.yaml]`: an HF training_args.json or TRL/alignment-handbook YAML
as a trainwell config. Keys HF leaves out take HF's defaults, so the config trains as HF would."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="training_args.json, or a TRL / alignment-handbook / LLaMA-Factory YAML (HF keys)")
    p.add_argument("-o", "--output", help="write the config here (.yaml or .json) instead of stdout")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format on stdout")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from trainwell.advise.hf_import import from_hf
    from trainwell.config import dump, load_config, read_mapping
    from trainwell.errors import DataError

    result = from_hf(read_mapping(args.file, DataError))
    config = load_config(result.data)
    if args.output:
        fmt = "json" if Path(args.output).suffix == ".json" else "yaml"
        Path(args.output).write_text(dump(config, fmt), encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(dump(config, args.format))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
