"""``python -m trainwell``: the CLI, as torchrun starts it (``torchrun --nproc-per-node N -m trainwell train CONFIG``)."""

from trainwell.cli.main import main

raise SystemExit(main())
