"""trainwell inside Hugging Face's ``Trainer`` (and TRL's ``SFTTrainer``, a subclass): extra ``[hf]``.

    from trainwell.integrations.hf import TrainwellCallback, lr_find, apply_lr

    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val)
    result = lr_find(trainer)          # the range test on the Trainer's own model, collator, optimizer, precision
    apply_lr(trainer, result)          # args.learning_rate = result.peak_lr
    trainer.add_callback(TrainwellCallback(stop_on_divergence=True))
    trainer.train()                    # -> OUTPUT_DIR/trainwell/: config.yaml, metrics.jsonl, findings.json, report.html

``TrainwellCallback`` translates the ``TrainingArguments`` into a trainwell config with the same import
``trainwell import --from hf`` uses, lints them when training begins, turns every log into a trainwell
record, runs the live doctor over them (findings go to the Trainer's logger; with
``stop_on_divergence`` a divergence sets ``control.should_training_stop``) and writes the summary,
findings and report when training ends. ``lr_find`` and ``apply_lr`` live in hf_find.py and the
TrainingArguments translation in hf_config.py; importing this module imports transformers (and says
what to install when it is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwell.errors import require
from trainwell.integrations.hf_config import config_from_args, trainer_precision
from trainwell.integrations.hf_find import apply_lr, lr_find
from trainwell.integrations.recorder import CallbackSettings

FEATURE = "trainwell.integrations.hf"
# Importing this module needs transformers; without it the import says what to install.
transformers = require("transformers", "hf", FEATURE)


class TrainwellCallback(CallbackSettings, transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    """A ``transformers.TrainerCallback`` writing a trainwell run folder (default ``OUTPUT_DIR/trainwell``).

    ``stop_on_divergence``: stop training when the live doctor finds divergence or a non-finite loss.
    ``live``: run the doctor during training. ``lint``: lint the TrainingArguments when training begins.
    ``mlflow``: True for ./mlruns, or a tracking URI. ``reasons``: the recommender's reasons
    (``[{"field", "value", "rule", "why", "source"}]``), for the report and MLflow tags.
    Only the main process writes: under torchrun every rank runs the callbacks.
    """

    def _logger(self) -> Any:
        from transformers.utils import logging as hf_logging

        return hf_logging.get_logger("transformers.trainer")

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        from trainwell.integrations.recorder import RunRecorder

        config, notes = config_from_args(args, model)
        run_dir = self.run_dir or Path(args.output_dir or "trainer_output") / "trainwell"
        self.recorder = RunRecorder(
            run_dir,
            config,
            extra_environment={
                "framework": f"transformers {transformers.__version__}",
                "model_class": type(model).__name__ if model is not None else None,
                "import_notes": notes,
            },
            **self.options,
        )
        self.lint_report = self._lint(args) if self.lint else None
        per_epoch = state.max_steps / state.num_train_epochs if state.num_train_epochs else None
        self.recorder.start(
            total_steps=state.max_steps or None,
            steps_per_epoch=per_epoch,
            device=str(args.device),
            precision=trainer_precision(args)[0],
            lint=self.lint_report,
        )

    def _lint(self, args: Any) -> Any:
        from trainwell.advise.lint import lint_mapping

        report = lint_mapping({k: v for k, v in args.to_dict().items() if v is not None}, "TrainingArguments")
        logger = self._logger()
        for f in report.findings:
            if f.severity in ("error", "warning"):
                line = f"trainwell lint: {f.rule}: {f.message}. Fix: {f.fix}"
                self.findings.append(line)
                logger.warning(line)
        return report

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        from trainwell.integrations.recorder import train_record

        if self.recorder is None or not logs or "train_runtime" in logs:  # the closing summary averages the whole run
            return
        self._act(self.recorder.train(train_record(logs, state.global_step, state.epoch, self.recorder.elapsed())), control)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        from trainwell.integrations.recorder import eval_record

        if self.recorder is None or not metrics:
            return
        self._act(self.recorder.evaluate(eval_record(metrics, state.global_step, state.epoch, self.recorder.elapsed())), control)

    def _act(self, verdict: Any, control: Any) -> None:
        logger = self._logger()
        for line in verdict.messages:
            self.findings.append(line)
            logger.warning(line)
        if verdict.stop_reason and self.options["stop_on_divergence"] and not control.should_training_stop:
            logger.warning(f"trainwell: stopping training: {verdict.stop_reason}")
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.recorder is None:
            return
        stopped = self.recorder.stop_reason if self.options["stop_on_divergence"] else None
        early = not stopped and state.max_steps and state.global_step < state.max_steps
        status = "diverged" if stopped else "stopped" if early else "completed"
        reason = stopped or ("a callback stopped training (e.g. early stopping)" if early else None)
        self.summary = self.recorder.finish(status=status, stop_reason=reason, steps=state.global_step)
        self.recorder = None


__all__ = ["TrainwellCallback", "apply_lr", "config_from_args", "lr_find"]
