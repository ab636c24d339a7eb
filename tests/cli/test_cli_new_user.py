"""A new user's mistakes, found by walking the README and every verb: each gives every problem at once
(field, rule, value received, fix), exit 2, no traceback, and leaves no run folder behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwell.cli.main import main


def test_train_reports_every_name_range_and_key_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`train` used to stop at the first unknown task name (4 typos, 1 reported) and to skip the range checks
    whenever a key or type was wrong (`config validate` on the same file listed more)."""
    config = tmp_path / "c.yaml"
    config.write_text("optimzer: {lr: 1e-3}\ntraining: {epochs: -3, max_grad_norm: abc}\nbatch: {size: 0}\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    argv = [str(config), "schedule.name=cosin", "optimizer.name=adamz", "loss.name=foo", "task=digitz", "optimizer.lr=-1"]
    assert main(["train", *argv, "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "9 problems found" in err and "Traceback" not in err
    for where in (
        "optimzer",
        "training.max_grad_norm",
        "training.epochs",
        "batch.size",
        "optimizer.lr",
        "schedule.name",
        "optimizer.name",
        "loss.name",
        "task",
    ):
        assert f"  - {where}: " in err
    assert "did you mean 'digits'" in err and "did you mean 'cosine'" in err
    assert not run_dir.exists()


def test_a_wrong_type_is_reported_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "task=5", "batch.size=-2.5"]) == 2
    err = capsys.readouterr().err
    assert "2 problems found" in err and "task: must be str" in err and "batch.size: must be int" in err


@pytest.mark.parametrize("where", ["missing", "empty", "checkpoint"])
def test_resume_names_the_run_folder_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    """`--resume RUN/checkpoints/step-N` said `RUN/checkpoints/step-N/config.yaml: file must exist`; it now
    names the run folder to pass (and --init-from for a new run from that checkpoint)."""
    run = tmp_path / "run"
    (run / "checkpoints" / "step-5").mkdir(parents=True)
    (run / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    target = {"missing": tmp_path / "nothere", "empty": run / "checkpoints", "checkpoint": run / "checkpoints" / "step-5"}[where]
    assert main(["train", "--resume", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"--resume: must be a run folder holding config.yaml, but got '{target}'" in err and "Traceback" not in err
    if where == "checkpoint":
        assert f"trainwell train --resume {run} " in err and f"--init-from {target}" in err


def test_recommend_refuses_infinite_and_impossible_facts(capsys: pytest.CaptureFixture[str]) -> None:
    """`recommend --imbalance inf` was a RuntimeError traceback (no loss rule matched); a dataset of 1e20
    examples was blamed on early_stopping.patience; more trainable parameters than parameters was accepted."""
    argv = ["--imbalance", "inf", "--gpu-memory", "inf", "--params", "10", "--trainable-params", "100", "--dataset-size", str(10**20)]
    assert main(["recommend", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "4 problems found" in captured.err and "Traceback" not in captured.err
    for where in ("profile.imbalance", "profile.gpu_memory", "profile.trainable_params", "profile.dataset_size"):
        assert f"  - {where}: " in captured.err


@pytest.mark.parametrize(
    "argv", [["lr-find", "--run-dir", "x"], ["recommend", "--foo", "1"], ["config", "show", "--bar"], ["recipes", "ls", "--x"]]
)
def test_an_unknown_option_names_the_verb(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """`trainwell lr-find --run-dir x` printed the top-level usage (`trainwell [-h] [--version] COMMAND ...`),
    which names none of lr-find's options: the problem names the verb and where its options are listed."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    verb = " ".join(w for w in argv if not w.startswith("-") and w not in ("x", "1"))
    option = next(w for w in argv if w.startswith("-"))
    assert f"  - {option}: is not an option of trainwell {verb}, but got " in err and f"`trainwell {verb} --help` lists its options" in err


def test_every_command_line_mistake_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse stopped at the first bad flag (`--epochs zero`: one usage error, the unknown --lr-budget and the
    negative batch unsaid). Now each is a problem (the flag, the rule, the value, a fix), the verb's own checks
    judge the values that did parse, exit 2, no usage dump, and the output is empty."""
    monkeypatch.chdir(tmp_path)
    assert main(["recommend", "--lr-budget", "x", "--batch-size", "-3", "--epochs", "zero", "--model", "mlpp"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("trainwell: error: 4 problems found:") and "usage:" not in captured.err
    for line in (
        "  - --epochs: must be a whole number, but got 'zero'. Fix: e.g. --epochs 10",
        "  - --model: must be one of mlp, cnn, resnet, transformer, vit, rnn, llm, but got 'mlpp'. Fix: did you mean 'mlp'?",
        "  - --lr-budget: is not an option of trainwell recommend, but got '--lr-budget x'. Fix: `trainwell recommend --help`",
        "  - profile.batch_size: `batch_size >= 1` must hold (an integer), but got -3.",
    ):
        assert line in captured.err
    # two options of an exclusive group no longer stop parsing either
    assert main(["recommend", "--epochs", "3", "--duration", "short", "--gpus", "two"]) == 2
    err = capsys.readouterr().err
    assert "  - --duration: cannot be given together with --epochs" in err and "  - --gpus: must be a whole number" in err
    assert main(["tune", "--trials", "x", "--workers", "y", "--strategy", "tpee"]) == 2
    assert "3 problems found" in capsys.readouterr().err
    # a verb that takes a config judges it too: the flags' problems and the config's, at once
    assert main(["train", "--nproc", "x", "optimizer.lr=-1", "training.epochs=zero", "--run-dir", "never"]) == 2
    err = capsys.readouterr().err
    assert "3 problems found" in err and "  - --nproc: must be a whole number, but got 'x'" in err
    assert "  - optimizer.lr: " in err and "  - training.epochs: " in err
    assert main(["tune", "--trials", "0", "--seeds", "x", "training.epochs=-1", "--run-dir", "never"]) == 2
    err = capsys.readouterr().err
    assert "3 problems found" in err and "  - --seeds: must be a whole number" in err
    assert "  - --trials: must be at least 1, but got 0" in err and "  - training.epochs: " in err
    assert main(["lr-find", "missing.yaml", "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert "  - --format: must be one of text, json, but got 'xml'" in err and "missing.yaml: file must exist" in err
    assert main(["schedule"]) == 2
    assert "  - --steps: is required, but got 'nothing'. Fix: e.g. `trainwell schedule --steps STEPS`" in capsys.readouterr().err
    assert main(["config", "valdate", "x.yaml"]) == 2
    assert "  - trainwell config ACTION: must name an action of trainwell config, but got 'valdate'. Fix: did you mean 'validate'?" in (
        capsys.readouterr().err
    )
    assert main(["recommend", "--epochs"]) == 2
    assert "  - --epochs: needs a value" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing was run


def test_help_still_lists_an_exclusive_group(capsys: pytest.CaptureFixture[str]) -> None:
    """The parser sets exclusive groups aside while it parses (to report a conflict with the other problems);
    `--help`, printed while parsing, still shows them."""
    with pytest.raises(SystemExit) as exit_:
        main(["recommend", "--help"])
    assert exit_.value.code == 0 and "[--epochs EPOCHS | --duration {short,standard,long}]" in capsys.readouterr().out


@pytest.mark.parametrize("url", ["foo://bar", "sqlite:///{tmp}/missing/folder/study.db", "mysql://user@localhost/db"])
def test_tune_storage_that_cannot_open_is_a_storage_error(tmp_path: Path, url: str) -> None:
    """`trainwell tune --storage foo://bar` was a SQLAlchemy NoSuchModuleError traceback (exit 1)."""
    from trainwell.errors import ConfigError
    from trainwell.tune.storage import open_storage

    with pytest.raises(ConfigError) as error:
        open_storage(url.format(tmp=tmp_path))
    (problem,) = error.value.problems
    assert problem.where == "--storage" and problem.value == url.format(tmp=tmp_path) and "sqlite:///study.db" in problem.fix


def test_the_recorded_command_runs_again() -> None:
    """environment.json's command was `.../trainwell/__main__.py train data.options={drop: [fnlwgt]}` for
    `python -m trainwell`: neither runnable as it stood nor quoted."""
    from trainwell.engine.run_folder import command_line

    argv = ["/x/site-packages/trainwell/__main__.py", "train", "data.options={drop: [fnlwgt]}", "--run-dir", "r"]
    assert command_line(argv) == "python -m trainwell train 'data.options={drop: [fnlwgt]}' --run-dir r"
    assert command_line(["/usr/bin/trainwell", "train"]) == "/usr/bin/trainwell train"


def test_model_options_of_a_built_in_task_are_checked_before_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`train model.hidden=-5` was torch's "negative dimension" traceback and `model.dropout=1.5` nn.Dropout's
    ValueError (exit 1); every bad option is now listed with the unknown ones."""
    argv = ["model.hidden=-5", "model.dropout=1.5", "model.layers=2.5", "model.hiden=3", "--run-dir", str(tmp_path / "run")]
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert "4 problems found" in err and "Traceback" not in err
    for where in ("model.hidden", "model.dropout", "model.layers", "model.hiden"):
        assert f"  - {where}: " in err
    assert not (tmp_path / "run").exists()


def test_data_settings_a_built_in_task_would_not_read_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`data.options.targt=income` trained tabular on its default target and `data.path=/etc/passwd` trained
    digits, each recording in config.yaml a setting the run never read."""
    assert main(["train", "data.path=/etc/passwd", "data.options.foo=1", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "2 problems found" in err and "  - data.options.foo: is not a data option of task 'digits'" in err
    assert "  - data.path: is not read by task 'digits'" in err and not (tmp_path / "run").exists()
    from trainwell.config import load_config
    from trainwell.errors import ConfigError

    with pytest.raises(ConfigError) as error:  # loading a config checks them too (config rule task-options)
        load_config({"task": "tabular", "data": {"options": {"targt": "income"}}})
    (problem,) = error.value.problems
    assert problem.where == "data.options.targt" and "did you mean 'target'" in problem.fix


def test_an_interrupted_tune_says_how_to_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C during `trainwell tune` printed only `trainwell: interrupted`; the study resumes with the same command."""
    import trainwell.tune.api

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trainwell.tune.api, "tune", interrupted)
    argv = ["tune", "--trials", "3", "--run-dir", str(tmp_path / "study"), "training.epochs=2"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "run the same command again to go on (trainwell tune --trials 3 --run-dir" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ("task: digits\ntraining:\n  epochs: 3\n   lr: 2\n", "c.yaml:4:6", "fix the syntax at line 4: 'lr: 2'"),
        ("task: digits\noptimizer: {lr: 0.1\n", "c.yaml:3:1", "close the bracket or quote opened at line 2, column 12"),
        ('task: "digits\n', "c.yaml:2:1", "close the bracket or quote opened at line 1, column 7"),
        ("task: !!python/object:os.system x\n", "c.yaml:1:7", "remove the tag at line 1"),
    ],
    ids=["indentation", "unclosed-brace", "unclosed-quote", "python-tag"],
)
@pytest.mark.parametrize("verb", [["config", "validate"], ["train"], ["lint"]])
def test_a_yaml_syntax_error_names_its_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, where: str, fix: str, verb: list[str]
) -> None:
    """A YAML slip said only `c.yaml: must be valid YAML, but got 'mapping values are not allowed in this
    context'`: no line, no column. Now `file:line:column` (1-based, as editors count), the parser's problem
    and the line it is on."""
    monkeypatch.chdir(tmp_path)  # `train` would make its run folder under ./runs
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    assert main([*verb, str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / where}: must be valid YAML, but got " in err and fix in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_config_validate_reports_the_tasks_model_and_data_options_as_train_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config validate` said `valid` for `model: {hiddn: 3, dropout: lots}` and an unknown `data.options` key,
    which `train` refused when it built the task. Now validate lists them with every other problem at once,
    in the very words `train` uses (one check: tasks.catalog.task_problems), and `train` lists them with the
    config's other problems, not after those are fixed."""
    monkeypatch.chdir(tmp_path)
    options = "task: digits\nmodel: {hiddn: 3, dropout: lots}\ndata:\n  options: {foo: 1}\n"
    (tmp_path / "opts.yaml").write_text(options, encoding="utf-8")
    (tmp_path / "both.yaml").write_text(options + "training: {epochs: -1}\n", encoding="utf-8")
    assert main(["train", "opts.yaml"]) == 2
    trained = capsys.readouterr().err
    assert main(["config", "validate", "opts.yaml"]) == 2
    validated = capsys.readouterr().err
    lines = ["model.hiddn: is not a model option of task 'digits', but got 3. Fix: did you mean 'hidden'?",
             "model.dropout: must be a number in [0, 1) (the probability of zeroing a unit), but got 'lots'",
             "data.options.foo: is not a data option of task 'digits', but got 1. Fix: task 'digits' takes no data.options"]  # fmt: skip
    for line in lines:
        assert line in trained and line in validated
    assert "3 problems found" in validated and not (tmp_path / "runs").exists()
    for verb in (["config", "validate"], ["train"], ["lr-find"]):
        # train (and every verb that resolves a config) reported the task's options in a second round, once
        # training.epochs was fixed; now in the first message, as validate does
        assert main([*verb, "both.yaml"]) == 2
        both = capsys.readouterr().err
        assert "4 problems found" in both and "  - training.epochs: " in both and all(line in both for line in lines)
    assert not (tmp_path / "runs").exists()


def test_config_validate_reports_the_causal_lm_adapter_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The causal-lm task's adapter options were checked only when the model was loaded."""
    config = tmp_path / "sft.yaml"
    config.write_text("task: causal-lm\nmodel: {adapter: qlora, lora_r: 0, lora_dropout: 1.5, lora_rank: 4}\n")
    assert main(["config", "validate", str(config)]) == 2
    err = capsys.readouterr().err
    for where in ("model.adapter", "model.lora_r", "model.lora_dropout", "model.lora_rank"):
        assert f"  - {where}: " in err
    assert "4 problems found" in err and "Traceback" not in err


def test_validate_lint_and_train_refuse_a_classifiers_loss_and_metric_for_causal_lm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config validate` and `lint` passed a causal-lm config with focal loss, class weights and macro-F1 (what
    the recommender once gave an imbalanced LLM profile, before rule loss.llm), which `train` refused only when it
    built the task, and the metric only at the first evaluation. One check (tasks.catalog.causal_lm_problems)
    now reports both, in the same words, from every verb, before any model is loaded."""
    monkeypatch.chdir(tmp_path)
    config = "task: causal-lm\nmodel: {name_or_path: ./nowhere}\ndata: {path: t.jsonl}\nloss: {name: focal, class_weights: auto}\n"
    (tmp_path / "sft.yaml").write_text(config + "evaluation: {metric: val_f1_macro, mode: max}\n", encoding="utf-8")
    lines = [
        "loss.name: the causal-lm task trains with next-token cross-entropy on response tokens, but got 'focal'",
        "evaluation.metric: must name a metric the causal-lm task reports (val_loss, val_perplexity, val_exact_match), "
        "but got 'val_f1_macro'",
    ]
    for verb in (["config", "validate"], ["train"]):
        assert main([*verb, "sft.yaml"]) == 2
        err = capsys.readouterr().err
        assert "2 problems found" in err and all(f"  - {line}" in err for line in lines) and "Traceback" not in err
    assert main(["lint", "sft.yaml"]) == 1  # lint's exit for a file with errors
    linted = capsys.readouterr().out
    assert "2 errors" in linted and all(line.split(", but got")[0] in linted for line in lines)
    assert not (tmp_path / "runs").exists()
    (tmp_path / "ok.yaml").write_text(
        "task: causal-lm\nmodel: {name_or_path: ./nowhere}\nevaluation: {metric: val_exact_match, mode: max}\n"
        "data: {path: t.jsonl, options: {generate_eval: 4}}\n",
        encoding="utf-8",
    )
    assert main(["config", "validate", "ok.yaml"]) == 0
    (tmp_path / "no_gen.yaml").write_text(
        "task: causal-lm\nmodel: {name_or_path: ./nowhere}\nevaluation: {metric: val_exact_match, mode: max}\ndata: {path: t.jsonl}\n",
        encoding="utf-8",
    )
    assert main(["config", "validate", "no_gen.yaml"]) == 2
    assert (
        "  - evaluation.metric: val_exact_match is reported only when data.options.generate_eval is above 0 (prompts answered at "
        "each evaluation), but got 'val_exact_match with generate_eval 0'. Fix: set data.options.generate_eval: 50, or monitor val_loss"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("metric", ["val_acuracy", "accuracy", "val_f1"])
def test_a_misspelt_monitored_metric_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], metric: str
) -> None:
    """A classifier's evaluation.metric that names no metric the task reports (`val_acuracy`, `accuracy` without the
    engine's val_ prefix) passed `config validate` and `lint`; `train` wrote its run folder, trained an epoch and
    stopped at the first evaluation. Each built-in task declares its metrics in the catalog (TaskSpec.metrics)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(f"evaluation: {{metric: {metric}, mode: max}}\n", encoding="utf-8")
    line = (
        f"  - evaluation.metric: must name a metric the digits task reports (val_loss, val_accuracy, val_f1_macro), but got '{metric}'. "
        "Fix: did you mean 'val_"
    )
    for verb in (["config", "validate"], ["train"], ["tune", "--trials", "2"]):
        assert main([*verb, "m.yaml"]) == 2
        err = capsys.readouterr().err
        assert line in err and "1 problem found" in err and "Traceback" not in err
    assert main(["lint", "m.yaml"]) == 1
    assert "evaluation.metric" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]  # no run folder: nothing trained
    (tmp_path / "mine.yaml").write_text(f"task: mypkg.tasks:build\nevaluation: {{metric: {metric}, mode: max}}\n", encoding="utf-8")
    assert main(["config", "validate", "mine.yaml"]) == 0  # a user task names its own metrics


def test_a_flag_without_its_value_and_an_unknown_verb_are_reported_with_the_other_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse stopped at an option given without its value (`--nproc` last on the line) and at a verb it did
    not know, so the line's other mistakes came one run at a time. Now the option is one problem among the rest
    (the config's included), and an unknown verb is reported with the options before it the parser does not
    know (the words after it are the verb's to judge)."""
    argv = ["train", "optimizer.lr=-1", "training.epochs=zero", "--run-dir", "--nproc", "x", "--bogus", "3", "--resume"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    for line in (
        "  - --run-dir: needs a value (expected one argument), but got 'nothing'. Fix: e.g. --run-dir RUN_DIR",
        "  - --resume: needs a value (expected one argument), but got 'nothing'",
        "  - --nproc: must be a whole number, but got 'x'",
        "  - --bogus: is not an option of trainwell train, but got '--bogus 3'",
        "  - optimizer.lr: `lr > 0.0` must hold, but got -1.0",
        "  - training.epochs: must be int, but got 'zero'",
    ):
        assert line in err
    assert "6 problems found" in err and "Traceback" not in err
    assert main(["--bogus", "--quiet=1", "trian", "--nproc", "x"]) == 2
    err = capsys.readouterr().err
    assert "3 problems found" in err and err.index("  - --bogus: is not an option of trainwell, but got '--bogus'") < err.index(
        "  - trainwell COMMAND: must name a command of trainwell, but got 'trian'. Fix: did you mean 'train'?"
    )
    assert "  - --quiet: is not an option of trainwell, but got '--quiet=1'" in err
    assert main(["config", "--foo", "valdate", "c.yaml"]) == 2
    err = capsys.readouterr().err
    assert "2 problems found" in err and "  - --foo: is not an option of trainwell config" in err and "but got 'valdate'" in err
    assert main(["lr-find", "--curve=yes", "--format"]) == 2  # argparse stops at an option given a value it does not take
    assert "  - --curve: takes no value, but got 'yes'. Fix: write --curve alone" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_data_option_values_a_task_cannot_read_are_refused_before_it_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data.options.drop=5` and `columns=3` were TypeError tracebacks when tabular built, `header=maybe` read the
    first row as a header, and fashion-mnist's `validation: holdout` passed `config validate`: every data option's
    value is now judged with the config (tasks.catalog.DATA_OPTION_RULES), all at once, by every verb."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{i % 7},{'xyz'[i % 3]},{i % 2}\n" for i in range(20)), encoding="utf-8")
    files = {
        "tab.yaml": "task: tabular\ndata: {path: t.csv, options: {drop: 5, columns: 3, header: maybe, target: true}}\n",
        "lm.yaml": "task: causal-lm\nmodel: {name_or_path: ./nowhere}\n"
        "data: {options: {max_length: 0, packing: yes please, generate_eval: -1, val_limit: abc}}\n",
        "fashion.yaml": "task: fashion-mnist\ndata: {options: {validation: holdout}}\n",
        "ok.yaml": "task: tabular\ndata: {path: t.csv, options: {target: null, drop: [], header: false}}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["train", "tab.yaml"]) == 2
    trained = capsys.readouterr().err
    assert main(["config", "validate", "tab.yaml"]) == 2
    validated = capsys.readouterr().err
    for line in (
        "  - data.options.drop: must be a list of column names, but got 5. Fix: e.g. drop: [fnlwgt]",
        "  - data.options.columns: must be a non-empty list of column names, but got 3",
        "  - data.options.header: must be true, false or auto, but got 'maybe'",
        "  - data.options.target: must be a column name or index, but got True",
    ):
        assert line in trained and line in validated
    assert "4 problems found" in trained and "Traceback" not in trained and not (tmp_path / "runs").exists()
    assert main(["config", "validate", "lm.yaml"]) == 2
    err = capsys.readouterr().err
    assert "4 problems found" in err and "  - data.options.packing: must be true or false, but got 'yes please'" in err
    for where in ("max_length", "generate_eval", "val_limit"):
        assert f"  - data.options.{where}: must be an integer from " in err
    assert main(["config", "validate", "fashion.yaml"]) == 2
    assert "  - data.options.validation: must be test or split, but got 'holdout'" in capsys.readouterr().err
    assert main(["config", "validate", "ok.yaml"]) == 0  # an option the task decides may be null; drop may be empty
