"""The task of a run whose model and data were passed to ``trainwell.train(model=..., train_data=...)``.

No config can rebuild such a model and data, and the run's config.yaml must not name a task that would
build something else: it used to keep the default task (digits), so the run was labelled digits and
`trainwell train RUN/config.yaml` trained the digits model. It names this function instead, which says
what happened rather than building anything. summary.json's ``model`` and ``data`` record what was trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from trainwell.errors import ConfigError, Problem

if TYPE_CHECKING:
    from trainwell.config.schema import Config

PASSED = "trainwell.tasks.passed:model_passed_to_train"


def model_passed_to_train(config: Config) -> NoReturn:
    raise ConfigError(
        problems=[
            Problem(
                "task",
                "names a run whose model and data were passed to trainwell.train(), which no config can rebuild",
                config.task,
                "call trainwell.train(this config, model=..., train_data=..., val_data=...) with the same model class "
                "built the same way (summary.json's 'model' names it) and the same data",
            )
        ]
    )
