"""Property-based fuzzing of what users touch (issue H): config files (YAML and JSON, hostile shapes
included) and command lines for every verb. The property: no traceback, a bad input is a clear
`trainwell: error:` (or argparse usage) message with exit 2, and each call stays under 2 s of CPU and
200 MB of Python allocations.

The verbs that train (train, lr-find, batch-find, tune) run for real up to the point where training would
start (config, overrides, the task build, the run-length check, the run folder); the loop itself is
stubbed here, because its inputs are what the fuzzer varies and a real run per example would cost
seconds. The default run is bounded to a few seconds; `-m slow` runs many more examples.
"""

from __future__ import annotations

import argparse
import json
import math
import string
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainwell.cli.main import VERBS, build_parser, main
from trainwell.config import Config, field_help

CPU_S = 2.0
PEAK_BYTES = 200 * 2**20
FIELDS = [path for path, _, _ in field_help(Config)]
# Exit codes a verb may return on purpose: 0 ok, 1 findings (lint/doctor --fail-on), 2 user error, 3 missing extra.
CODES = {0, 1, 2, 3}


class Reached(Exception):
    """Raised by the stubbed training loop: everything before it ran for real and accepted the input."""


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    import trainwell.engine.api as engine
    import trainwell.find.batch_finder as batch_finder
    import trainwell.find.lr_finder as lr_finder
    import trainwell.run.features as features
    import trainwell.tune.api as tune_api
    from trainwell.cli import train_cmd
    from trainwell.tasks.catalog import build_task

    def engine_run(*args: Any, **kw: Any) -> Any:
        raise Reached

    def lr_find(config: Any, task: Any = None, *args: Any, **kw: Any) -> Any:
        task or build_task(config)
        raise Reached

    monkeypatch.setattr(engine, "run", engine_run)
    monkeypatch.setattr(features, "run_finders", lambda planned, *a, **k: planned.resolved())  # no range test
    monkeypatch.setattr(lr_finder, "lr_find", lr_find)
    monkeypatch.setattr(batch_finder, "find_batch_for_training", engine_run)
    monkeypatch.setattr(tune_api, "tune", engine_run)
    monkeypatch.setattr(train_cmd, "launch", engine_run)  # `train --nproc N` would start N real processes
    monkeypatch.chdir(tmp_path)  # default output folders land in the test's folder
    # Warm up: the first call of a verb imports its modules (torch, sklearn's digits, optuna), which is
    # start-up cost, not the cost of the input; the property is about inputs.
    (tmp_path / "warm.yaml").write_text("task: digits\n", encoding="utf-8")
    for verb in DOC_VERBS:
        try:
            main([*verb, str(tmp_path / "warm.yaml")])
        except (Reached, SystemExit):
            pass
    yield


def call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Run one command line and check the property."""
    tracemalloc.start()
    start = time.process_time()
    wall = time.perf_counter()
    try:
        code: Any = main(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help and --version exit 0
        code = exc.code
    except Reached:
        code = 0
    finally:
        cpu = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code in CODES, (argv, code, err[-2000:])
    assert "Traceback" not in err, (argv, err[-3000:])
    if code == 2:
        assert err.startswith("trainwell: error:") or "error:" in err.splitlines()[-1], (argv, err[-2000:])
    assert cpu < CPU_S, (argv, f"{cpu:.2f} s CPU ({time.perf_counter() - wall:.2f} s wall)")
    assert peak < PEAK_BYTES, (argv, f"{peak / 2**20:.0f} MB")


# --- config documents -------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-3, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 1e23, 1e-30, 2**53 + 1, -1, 0.5, 1e308]),
)
words = st.one_of(
    st.text(string.ascii_letters + string.digits + "_.:-/ ", max_size=16),
    st.sampled_from(["auto", "find", "cosine", "adamw", "digits", "steps", "epoch", "max", "min", "bf16", "os:system", "builtins:print",
                     "no_such_module_h:fn", "trainwell.tasks.base:TaskFacts", "../../etc/passwd", "", "~", "null", "1e-4"]),
)  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), numbers, words)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words, inner, max_size=4), max_leaves=10)
keys = st.one_of(st.sampled_from(FIELDS), words)


@st.composite
def config_mapping(draw: st.DrawFn) -> dict[str, Any]:
    """A dict shaped like a trainwell config: dotted schema paths (and some wrong ones) with any values."""
    data: dict[str, Any] = {}
    for key in draw(st.lists(keys, max_size=8)):
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else node
        node[parts[-1]] = draw(values)
    return data


def alias_bomb(width: int, depth: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


hostile = st.one_of(
    st.builds(alias_bomb, st.integers(2, 12), st.integers(2, 12)),
    st.builds(lambda n, c: "a: " + c[0] * n + c[1] * n, st.integers(10, 6000), st.sampled_from(["[]", "{}"])).filter(lambda s: "{" not in s),
    st.builds(lambda n: "a:\n" + "".join("  " * i + "b:\n" for i in range(1, n)) + "  " * n + "1\n", st.integers(10, 200)),
    st.builds(lambda n: '{"a": ' + "[" * n + "]" * n + "}", st.integers(10, 6000)),
    st.sampled_from(["!!python/object/apply:os.system ['echo hi']", "a: !!python/name:os.system", "- 1\n- 2", "just text", "a: [1, 2",
                     "{\"a\": 1", "\ufeffa: 1", "a: 1\na: 2", "? [1, 2]\n: 3", "a: 2001-02-30", "seed: " + "9" * 5000, "\x00\x01"]),
    st.text(max_size=200),
)  # fmt: skip


@st.composite
def document(draw: st.DrawFn) -> tuple[str, str]:
    """(suffix, text): a config-like mapping as YAML or JSON, a truncated one, or a hostile document."""
    kind = draw(st.sampled_from(["yaml", "json", "truncated", "hostile"]))
    if kind == "hostile":
        text = draw(hostile)
        return (".json" if text.lstrip().startswith("{") else ".yaml"), text
    data = draw(config_mapping())
    if kind == "yaml":
        return ".yaml", yaml.safe_dump(data, sort_keys=False)
    text = json.dumps(data, default=str)
    if kind == "truncated":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return ".json", text


DOC_VERBS = [["config", "validate"], ["config", "show"], ["lint"], ["import"], ["export", "--to", "hf"], ["schedule", "--steps", "100"],
             ["doctor"], ["report"], ["train"], ["lr-find"], ["batch-find"], ["tune", "--trials", "1"]]  # fmt: skip


def _check_document(doc: tuple[str, str], verb: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    suffix, text = doc
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"config{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        extra = ["--run-dir", str(Path(tmp) / "run")] if verb[0] in ("train", "tune") else []
        call([*verb, str(path), *extra], capsys)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=document(), verb=st.sampled_from(DOC_VERBS))
def test_config_files_never_crash(stubbed: None, capsys: pytest.CaptureFixture[str], doc: tuple[str, str], verb: list[str]) -> None:
    _check_document(doc, verb, capsys)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=document(), verb=st.sampled_from(DOC_VERBS))
def test_config_files_never_crash_long(stubbed: None, capsys: pytest.CaptureFixture[str], doc: tuple[str, str], verb: list[str]) -> None:
    _check_document(doc, verb, capsys)


# --- command lines ----------------------------------------------------------------------------------


def _leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser ('config show' for nested ones), from the CLI itself: a new option is fuzzed too."""
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[prefix] = parser
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, f"{prefix} {name}".strip())

    walk(build_parser(), "")
    return out


LEAVES = _leaf_parsers()
garbage = st.one_of(
    st.text(string.printable.strip(), max_size=12), st.sampled_from(["-1", "0", "1e400", "nan", "10000000000000", "", "-", "--", "="])
)


def _option_strategy(action: argparse.Action) -> st.SearchStrategy[list[str]]:
    flag = st.just(action.option_strings[-1])
    if action.nargs == 0:
        return flag.map(lambda f: [f])
    if action.choices:
        value: st.SearchStrategy[str] = st.one_of(st.sampled_from([str(c) for c in action.choices]), garbage)
    elif action.type is int:
        value = st.one_of(st.integers(-5, 200).map(str), st.integers(-(2**80), 2**80).map(str), garbage)
    elif action.type is float:
        value = st.one_of(st.floats(allow_nan=True).map(str), garbage)
    else:
        value = st.one_of(st.sampled_from(["out.png", "missing/dir/x.json", ".", "sqlite:///:memory:", "journal:j.log"]), garbage)
    return st.tuples(flag, value).map(list)


override = st.builds(
    lambda k, v: f"{k}={v}", st.sampled_from(FIELDS), st.one_of(numbers.map(str), words, st.sampled_from(["[1, 2", "{a: 1}", ""]))
)


@st.composite
def command_line(draw: st.DrawFn) -> list[str]:
    verb = draw(st.sampled_from(sorted(LEAVES)))
    parser = LEAVES[verb]
    options = [a for a in parser._actions if a.option_strings and a.dest not in ("help",) and not isinstance(a, argparse._VersionAction)]
    parts: list[list[str]] = [draw(_option_strategy(a)) for a in draw(st.lists(st.sampled_from(options), max_size=4))] if options else []
    positionals = draw(st.lists(st.one_of(override, st.sampled_from(["missing.yaml", ".", "digits", "nope"]), garbage), max_size=3))
    parts += [[p] for p in positionals]
    order = draw(st.permutations(range(len(parts)))) if parts else []
    return [*verb.split(), *(token for i in order for token in parts[i])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=command_line())
def test_command_lines_never_crash(stubbed: None, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    call(argv, capsys)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=command_line())
def test_command_lines_never_crash_long(stubbed: None, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    call(argv, capsys)


def test_every_verb_is_fuzzed() -> None:
    verbs = {leaf.split()[0] for leaf in LEAVES}
    assert {name for name, _, _ in VERBS} <= verbs
    assert math.isfinite(CPU_S)
