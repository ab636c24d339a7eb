"""The shapes test4 of benchmarks/doctor_corpus showed the doctor misreading (issue M): each test builds the shape
synthetically, small and deterministic, and checks the generic rule that now reads it right."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_doctor_checks import decay, history, nan_grad_state, noisy

from trainwell.doctor import History, Severity, diagnose
from trainwell.doctor.readers import read_history


def _rules(h: History) -> list[str]:
    return [f.rule for f in diagnose(h).findings]


def _errors(h: History) -> list[str]:
    return [f.rule for f in diagnose(h).findings if f.severity >= Severity.ERROR]


# ---- no error findings on healthy runs ---------------------------------------------------------------------------


def _grpo_records(n: int, zero_std_every: int) -> list[dict[str, float]]:
    """TRL GRPO log records: a policy loss hovering around 0 (negative at times, ~3e-5 where only the KL term is
    left), a reward, its within-group std, and the share of groups whose rewards were all equal."""
    records = []
    for i in range(n):
        dead = zero_std_every and i % zero_std_every != 0
        loss = 3e-5 if dead or i % 3 == 0 else 0.04 * math.sin(1.7 * i) - 0.01
        records.append(
            {
                "step": 5 * (i + 1),
                "epoch": (i + 1) / n,
                "loss": loss,
                "grad_norm": 0.3 + 0.01 * (i % 4),
                "learning_rate": 1e-5 * (1 - i / n),
                "reward": 0.1 + 0.01 * i,
                "reward_std": 0.0 if dead else 0.4,
                "frac_reward_zero_std": 1.0 if dead else 0.1,
                "kl": 1e-4 * i,
            }
        )
    return records


def test_a_signed_rl_policy_loss_near_zero_is_not_divergence_nor_zero_loss(tmp_path: Path) -> None:
    # Rusheel86/Chaos-Economy: GRPO's policy loss hovers around 0 (-0.22 .. +0.04, ~3e-5 late): the doctor called it
    # divergence ("rose from -0.05 to 5e-5") and zero_loss. A loss that goes below 0 is no loss bounded by 0.
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": _grpo_records(40, zero_std_every=0), "max_steps": 200}))
    d = diagnose(path)
    assert not [f for f in d.findings if f.severity >= Severity.WARNING], [f.rule for f in d.findings]
    for rule in ("divergence", "flat_loss", "spikes", "warmup_too_short"):
        assert "signed objective" in d.skipped[rule]


def test_a_signed_loss_without_reward_logs_skips_zero_loss() -> None:
    h = history([0.05 * math.sin(i) for i in range(40)])
    assert _errors(h) == []
    assert "zero_loss" not in _rules(h)


def test_an_rl_run_whose_groups_all_get_equal_rewards_is_zero_loss(tmp_path: Path) -> None:
    # aaravarora01/agent-memory-redteam: the reward std is 0 at 84 of 100 steps, so the advantages and the loss are 0.
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": _grpo_records(40, zero_std_every=5), "max_steps": 200}))
    d = diagnose(path)
    assert d.main_finding is not None and d.main_finding.rule == "zero_loss"
    assert "no learning signal" in d.main_finding.message and "num_generations" in d.main_finding.fix


def test_a_val_loss_converging_near_ln2_alone_is_not_chance_plateau() -> None:
    # Tanya-garg10's LoRA fine-tune: 5 evaluations 0.734 -> 0.686 while the train loss ends near 0.82: one value near
    # ln 2 is a coincidence, not a binary classifier at chance.
    train = noisy(decay(110, 1.37, 0.8, 4.0), 0.05)
    h = history(train, [0.734, 0.707, 0.693, 0.687, 0.686], every=22)
    assert "chance_plateau" not in _rules(h)


def test_chance_plateau_is_corroborated_by_a_long_plateau_the_start_or_the_other_loss() -> None:
    # The same five evaluations, with the train loss also at ln 2: both losses at one chance level.
    both = history(noisy([0.72] * 10 + [0.694] * 100, 0.004), [0.734, 0.707, 0.693, 0.687, 0.686], every=22)
    assert diagnose(both).main_finding.rule == "chance_plateau"  # type: ignore[union-attr]
    # Four train losses hovering at ln 2 from the first log (DevTorch/genome-lab-project): it never left chance.
    start = history([0.722, 0.688, 0.716, 0.685])
    assert "chance_plateau" in _rules(start)
    # Two values at the start far above ln 2, then two at ln 2: one level near ln 2 is not enough.
    assert "chance_plateau" not in _rules(history([0.95, 0.90, 0.70, 0.69]))


def test_a_val_loss_reached_gradually_near_zero_in_full_precision_is_not_zero_loss() -> None:
    # AlenGevorgyan/ArSen: 150 epochs, val loss 2.24 -> 9e-4 at epoch 18 over a steady descent (val accuracy 36% ->
    # 100%), then ~1e-5 for 100 epochs: an easy task learned and a run idling, not leakage.
    val = [2.24 * math.exp(-0.45 * i) for i in range(20)] + [1e-5 * (1.2 + 0.1 * math.sin(i)) for i in range(130)]
    acc = [min(1.0, 0.36 + 0.04 * i) for i in range(150)]
    h = history(decay(150, 2.8, 0.004, 8.0), val, every=1, val_accuracy=acc)
    assert "zero_loss" not in _rules(h)
    assert "saturating" in _rules(h)


def test_a_held_out_loss_near_zero_from_the_first_evaluations_is_still_zero_loss() -> None:
    h = history(decay(40, 0.7, 0.01), [0.0004, 0.0003, 0.0002, 0.0002, 0.0001, 0.0001], every=6, val_accuracy=[1.0] * 6)
    assert diagnose(h).main_finding.rule == "zero_loss"  # type: ignore[union-attr]


def test_exactly_zero_val_loss_late_in_a_long_run_is_still_zero_loss() -> None:
    val = [2.0 * math.exp(-0.3 * i) for i in range(30)] + [0.0] * 10
    h = history(decay(40, 2.3, 0.01), val, every=1, val_accuracy=[0.5 + 0.0125 * i for i in range(40)])
    assert "zero_loss" in _errors(h)


# ---- failures the doctor did not see -----------------------------------------------------------------------------


def test_a_gan_whose_losses_are_nan_from_the_first_log_is_nan_inf(tmp_path: Path) -> None:
    # AIRI-Institute/genrisk: generator and discriminator losses (kept as extras, no objective loss) NaN from the start.
    rows = ["step,epoch,train_disc_loss,train_gen_loss", "0,0,1.6e+24,nan"] + [f"{i},{i // 4},nan,nan" for i in range(1, 40)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    d = diagnose(tmp_path / "metrics.csv")
    assert not d.history.train_loss and d.main_finding is not None and d.main_finding.rule == "nan_inf"
    assert "train_gen_loss (40x)" in d.main_finding.message and "clip" in d.main_finding.fix


def test_a_nan_test_loss_kept_as_an_extra_is_not_a_training_blow_up(tmp_path: Path) -> None:
    rows = ["step,epoch,train_loss,test_loss"] + [f"{i},{i // 10},{2.0 / (i + 1)},{'nan' if i == 39 else ''}" for i in range(40)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert "nan_inf" not in [f.rule for f in diagnose(tmp_path / "metrics.csv").findings]


def _keras_event_file(folder: Path, tags: dict[str, list[float]]) -> Path:
    """An event file as Keras' TensorBoard callback writes it: scalars by tag, step = the 0-based epoch."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True)
    writer = EventFileWriter(str(folder))
    for tag, values in tags.items():
        for step, value in enumerate(values):
            writer.add_event(Event(step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)])))
    writer.close()
    return next(folder.glob("*tfevents*"))


_KERAS_VAL = [0.143, 0.11, 0.095, 0.088, 0.082, 0.079, 0.0756, 0.0843, 0.0777, 0.0843]


def test_a_keras_validation_event_file_is_the_validation_curve(tmp_path: Path) -> None:
    # TheCodeheadMT/TensorBoard-Tutorial: logs/validation/ holds epoch_loss (the val loss) and Keras'
    # evaluation_loss_vs_iterations copy; read alone it was "no train loss, no evaluations": no finding.
    path = _keras_event_file(
        tmp_path / "logs" / "validation",
        {"epoch_loss": _KERAS_VAL, "epoch_accuracy": [0.978] * 10, "evaluation_loss_vs_iterations": _KERAS_VAL},
    )
    d = diagnose(path)
    assert d.history.x_unit == "epoch" and not d.history.train_loss
    assert d.history.eval["val_loss"].values == pytest.approx(_KERAS_VAL) and d.history.eval["val_loss"].steps[0] == 1.0
    assert "val_evaluation_loss_vs_iterations" not in d.history.eval
    assert d.main_finding is not None and d.main_finding.rule == "overfitting"
    # The same file renamed out of its folder: Keras writes evaluation_*_vs_iterations only from its validation writer.
    moved = tmp_path / "events.out.tfevents.1.host.v2"
    path.rename(moved)
    assert read_history(moved).eval["val_loss"].values == pytest.approx(_KERAS_VAL)


def test_a_keras_log_folder_reads_both_sides(tmp_path: Path) -> None:
    train = [0.5 * 0.8**i for i in range(10)]
    _keras_event_file(tmp_path / "logs" / "train", {"epoch_loss": train, "epoch_accuracy": [0.9] * 10})
    _keras_event_file(tmp_path / "logs" / "validation", {"epoch_loss": _KERAS_VAL})
    h = read_history(tmp_path / "logs")
    assert h.train_loss.values == pytest.approx(train) and h.eval["val_loss"].values == pytest.approx(_KERAS_VAL)
    assert "accuracy" in h.train_metrics


# ---- noisy validation curves -------------------------------------------------------------------------------------

_NOISY_PLATEAU = [0.47, 0.371, 0.351, 0.356, 0.402, 0.397, 0.323, 0.348, 0.328, 0.363]


def test_a_noisy_plateau_after_its_luckiest_evaluation_is_not_overfitting() -> None:
    # Abhash-Chakraborty/AgroHealty: 10 Keras epochs, val loss flat at 0.32-0.40 from epoch 3, its minimum at epoch 7,
    # val accuracy flat at ~0.88, train loss falling: every evaluation after the best stays inside the earlier band.
    train = [0.844, 0.361, 0.324, 0.3, 0.284, 0.273, 0.26, 0.252, 0.246, 0.238]
    flat = [0.854, 0.873, 0.878, 0.878, 0.869, 0.869, 0.885, 0.878, 0.884, 0.878]
    h = history(train, _NOISY_PLATEAU, every=1, val_accuracy=flat)
    assert "overfitting" not in _rules(h)
    # The same losses with the val accuracy falling from its best by 3%: the quality metric turned, so it is a turn.
    turned = [0.854, 0.873, 0.878, 0.878, 0.869, 0.869, 0.885, 0.87, 0.865, 0.858]
    assert "overfitting" in _rules(history(train, _NOISY_PLATEAU, every=1, val_accuracy=turned))
    # And a rise out of the band (the last evaluation above anything since the plateau began) is a turn with no metric.
    assert "overfitting" in _rules(history(train, [*_NOISY_PLATEAU[:-1], 0.43], every=1))


def test_a_curve_that_gives_back_all_it_gained_has_turned_whatever_its_early_jitter() -> None:
    # GharretWilcut/Mad_Corn_Disease: val loss 0.216 / 0.237 / 0.196 (best) then 0.23-0.28 for 17 epochs, ending above
    # its first evaluation while the train loss falls to 0.007: overfitting, though the first epochs were noisy.
    val = [0.216, 0.2366, 0.1957, 0.2049, 0.2311, 0.226, 0.2271, 0.2771, 0.2586, 0.2685, 0.2519, 0.2492, 0.2482]
    train = [0.339 * 0.7**i for i in range(13)]
    assert "overfitting" in _rules(history(train, val, every=1, val_accuracy=[0.924] * 13))


def test_a_train_only_loss_still_falling_is_not_underfitting_though_its_accuracy_is_low() -> None:
    # AI-LAB-AGH/PSL-Translator: 30 epochs, no validation, loss 3.53 -> 0.84 still falling ~0.025 an epoch, accuracy on
    # ~10 samples jumping 0.2-0.6: the loss has not stopped, so "cannot fit its training data" is premature.
    loss = [3.53 * 0.93**i + 0.02 * ((-1) ** i) for i in range(30)]
    acc = [0.2 + 0.4 * ((i * 7) % 5) / 4 for i in range(30)]
    h = history(loss, train_accuracy=acc)
    rules = _rules(h)
    assert "underfitting" not in rules and "still_improving" in rules
    # The same accuracies under a loss that has stopped (flat for its last two thirds): underfitting.
    flat = [3.53 * 0.5**i + 1.5 + 0.02 * ((-1) ** i) for i in range(30)]
    assert "underfitting" in _rules(history(flat, train_accuracy=acc))


def test_an_accuracy_gap_opened_by_a_val_blow_up_is_the_spike_not_memorisation() -> None:
    # 065010-AmanMalhi/groww-sentiment-analyser: val loss 0.33 -> 5.0 / 7.2 -> 1.7 / 1.2 (an LR halving), val accuracy
    # 0.85 -> 0.24 -> 0.61 while train accuracy reaches 0.97: the gap opened with the blow-up, it was 0.11 before it.
    train = [1.095, 0.665, 0.454, 0.364, 0.285, 0.225, 0.25, 0.197, 0.171, 0.135]
    val = [0.7286, 0.4989, 0.3873, 0.5213, 0.3333, 0.4409, 5.0336, 7.1756, 1.6807, 1.2049]
    val_acc = [0.2222, 0.8845, 0.8715, 0.8385, 0.8759, 0.8507, 0.2535, 0.2378, 0.5278, 0.6146]
    train_acc = [0.7245, 0.8344, 0.9002, 0.9303, 0.9453, 0.9592, 0.9572, 0.9655, 0.9633, 0.9722]
    h = history(train, val, every=1, val_accuracy=val_acc, train_accuracy=train_acc)
    d = diagnose(h)
    assert d.main_finding is not None and d.main_finding.rule == "val_spikes"
    assert "overfitting" not in _rules(h) and "saturating" not in _rules(h)  # it settled worse than it started
    # The same gap with no blow-up before it is memorisation.
    steady = [0.7286, 0.4989, 0.3873, 0.5213, 0.3333, 0.4409, 0.45, 0.47, 0.49, 0.5]
    low = [0.2222, 0.6, 0.62, 0.61, 0.62, 0.6, 0.6, 0.61, 0.6, 0.6]
    assert "overfitting" in _rules(history(train, steady, every=1, val_accuracy=low, train_accuracy=train_acc))


# ---- after test5 was scored --------------------------------------------------------------------------------------


def test_a_non_finite_grad_norm_with_finite_losses_is_a_skipped_step_warning(tmp_path: Path) -> None:
    # test5 (MattthiasSchedel/DAT55-Project4): an HF log with one NaN grad_norm and every loss finite, labelled
    # healthy, got a nan_inf ERROR. A mixed-precision scaler skips overflowing steps by design; a NaN loss stays an error.
    loss = [2.0 * 0.9**i for i in range(20)]
    path = nan_grad_state(tmp_path / "trainer_state.json", loss, {1}, every=10, per_epoch=20, peak_lr=1e-4, max_steps=200)
    found = {f.rule: f for f in diagnose(path).findings}
    assert found["nan_inf"].severity == Severity.WARNING and "skipped" in found["nan_inf"].message
    loss[5] = float("nan")
    nan_grad_state(path, loss, {1}, every=10, per_epoch=20, peak_lr=1e-4, max_steps=200)
    assert "nan_inf" in _errors(read_history(path))
