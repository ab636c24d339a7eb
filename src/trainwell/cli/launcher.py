"""``python -m trainwell.cli.launcher ARGS``: torch.distributed.run (torchrun) with ARGS, whose failure is one
line instead of torchrun's traceback.

When a rank fails, torchrun raises ``ChildFailedError`` out of its ``main`` and the interpreter prints
the launcher's own stack and a table of the failed ranks, after the rank's message, which is the one that
says what went wrong. Here the job runs through torchrun's own ``run``; a failed job ends with a line naming
the first rank that failed and how, and the launcher exits with that rank's code (2 for a config problem,
128 + N for a rank killed by signal N), as one process would have.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(list(argv) if argv is not None else sys.argv[1:]))
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with code {code}"
        print(f"trainwell: error: rank {rank} {how}; torchrun stopped the job (the rank's own message is above)", file=sys.stderr)
        return 128 - code if code < 0 else code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
