"""Reading the shapes real CSV, TensorBoard and Keras logs come in (issue M, test5's reader misses): hand-written CSVs
(epochs from 1, one row per batch, RL episodes, a column set the doctor cannot interpret), folders of Lightning versions
and TensorBoard runs, multi-output Keras models, and files that are malformed or too big. Small files in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_doctor_reader_parity import write_csv, write_events

from trainwell.cli.main import main
from trainwell.config.documents import Limits
from trainwell.doctor import diagnose, read_history
from trainwell.doctor.naming import classify
from trainwell.doctor.readers import base
from trainwell.errors import DataError

# ---- hand-written CSVs ------------------------------------------------------------------------------------------------


def test_a_per_batch_csv_is_indexed_by_row_not_collapsed_to_one_value_per_epoch(tmp_path: Path) -> None:
    rows = [{"Epoch": e, "Batch": b, "loss": 2.0 / (1 + e * 10 + b)} for e in range(4) for b in range(10)]
    h = read_history(write_csv(tmp_path / "log.csv", rows))
    assert len(h.train_loss) == 40 and h.train_loss.steps[:2] == [1.0, 2.0] and h.x_unit == "step"
    assert h.source == "csv" and any("several rows per Epoch" in n for n in h.notes)
    assert "batch" not in h.train_metrics  # the batch counter is an index, not a metric


def test_a_running_loss_reset_every_epoch_is_read_at_each_epochs_last_row_not_as_an_explosion(tmp_path: Path) -> None:
    # running_loss += loss / len(loader), written every batch (test6's only error on a healthy run, held out): row by
    # row it climbs through each epoch, and the doctor called it divergence.
    means = [0.65, 0.42, 0.30, 0.22, 0.18, 0.16]
    rows = [{"epoch": e + 1, "train_loss": means[e] * (b + 1) / 20, "train_acc": 70 + 4 * e} for e in range(6) for b in range(20)]
    h = read_history(write_csv(tmp_path / "train_log.csv", rows))
    assert h.x_unit == "epoch" and h.train_loss.steps == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert h.train_loss.values == pytest.approx(means) and any("accumulates within each epoch" in n for n in h.notes)
    assert "divergence" not in {f.rule for f in diagnose(h).findings}
    # A noisy per-batch loss that happens to rise in one epoch is not a running total: rows stay rows.
    noisy = [{"epoch": e, "train_loss": 1.0 / (1 + e) + (0.01 if b % 2 else 0.0)} for e in range(4) for b in range(6)]
    assert read_history(write_csv(tmp_path / "noisy.csv", noisy)).x_unit == "step"


def test_an_episode_or_round_column_indexes_a_hand_written_log(tmp_path: Path) -> None:
    rows = [
        {"episode": i, "num_examples": 100 * i, "train_loss": 2.0 - 0.05 * i, "val_loss": 2.1 - 0.04 * i, "duration_min": 3.0}
        for i in range(12)
    ]
    h = read_history(write_csv(tmp_path / "training_log.csv", rows))
    assert h.x_unit == "epoch" and h.eval["val_loss"].steps == [float(i) for i in range(1, 13)]
    assert "duration_min" not in h.train_metrics and "episode" not in h.train_metrics
    assert any("'episode' column" in n for n in h.notes)


def test_a_csv_naming_no_loss_and_no_held_out_metric_is_refused_with_its_columns(tmp_path: Path) -> None:
    rows = [{"Episode": i, "Env_1_Reward": 10.0 + i, "Env_2_Reward": -200.0 + i} for i in range(30)]
    with pytest.raises(DataError) as info:
        read_history(write_csv(tmp_path / "training_log.csv", rows))
    problem = info.value.problems[0]
    assert "Env_1_Reward (a train-side metric" in str(problem.value) and "Episode (a row index)" in str(problem.value)
    assert "val_<name>" in problem.fix and "'loss'" in problem.fix
    # A GAN's losses are named losses: read (nothing the checks judge, but nothing guessed either).
    gan = [{"Epoch": e, "Batch": b, "Gen Loss": 0.7 + b / 10, "Disc Loss": 1.3 - b / 10} for e in range(3) for b in range(5)]
    assert read_history(write_csv(tmp_path / "gan.csv", gan)).extra
    # A header-only CSV naming a loss is a log with no rows, not an unnamed one.
    (tmp_path / "empty.csv").write_text("Episode,Reward,Loss\n", encoding="utf-8")
    with pytest.raises(DataError, match="at least one logged value"):
        read_history(tmp_path / "empty.csv")


def test_metrics_under_a_stage_namespace_are_read_by_the_name_after_it(tmp_path: Path) -> None:
    # self.log(f"{stage}/train_loss", ...) in Lightning (test6, after scoring): 'finetuning/train_loss_step' was read as
    # nothing, so the doctor saw no series at all and said "nothing to fix".
    assert classify("finetuning/train_loss_step") == ("train_loss", "train_loss")
    assert classify("stage2/val_acc") == ("eval", "val_accuracy") and classify("finetuning/val_loss") == ("eval", "val_loss")
    # A split word is the name's own prefix, and a namespaced term or score keeps its reading from the whole name.
    assert classify("train/loss") == ("train_loss", "train_loss") and classify("losses/value_loss")[0] == "extra"
    assert classify("charts/episodic_return")[0] == "train_metric" and classify("test/loss")[0] == "extra"
    rows = [{"epoch": 0, "step": 49 + 50 * i, "finetuning/train_loss_step": 0.7 - 0.02 * i, "finetuning/val_loss": ""} for i in range(6)]
    rows.append({"epoch": 0, "step": 299, "finetuning/train_loss_step": "", "finetuning/val_loss": 0.4})
    h = read_history(write_csv(tmp_path / "metrics.csv", rows))
    assert len(h.train_loss) == 6 and h.eval["val_loss"].values == [0.4]


def test_a_byte_order_mark_and_pandas_index_column_are_not_column_names(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("\ufeffepoch,loss,val_loss\n" + "".join(f"{e},{1 / (e + 1)},{1.2 / (e + 1)}\n" for e in range(6)), encoding="utf-8")
    h = read_history(path)
    assert h.x_unit == "epoch" and len(h.train_loss) == 6 and h.train_loss.steps[0] == 1.0
    assert classify("Unnamed: 0")[0] == classify("index")[0] == "ignore"


def test_a_keras_history_saved_by_pandas_with_no_epoch_column_is_read_one_row_per_epoch(tmp_path: Path) -> None:
    # pd.DataFrame(history.history).to_csv(...): the metrics and pandas' unnamed index, or (index=False) the metrics
    # alone. Found held out in test6, where 5 of 63 logs were refused as "not a supported training log".
    body = "".join(f"{e},{0.5 + e / 20},{1.5 / (e + 1)},{0.6 + e / 25},{1.6 / (e + 1)}\n" for e in range(8))
    (tmp_path / "indexed.csv").write_text(",accuracy,loss,val_accuracy,val_loss\n" + body, encoding="utf-8")
    (tmp_path / "bare.csv").write_text(
        "accuracy,loss,val_accuracy,val_loss\n" + "".join(line.split(",", 1)[1] + "\n" for line in body.splitlines()),
        encoding="utf-8",
    )
    for name in ("indexed.csv", "bare.csv"):
        h = read_history(tmp_path / name)
        assert h.x_unit == "epoch" and h.eval["val_loss"].steps == [float(e) for e in range(1, 9)], name
        assert len(h.train_loss) == 8 and any("each row is read as one epoch" in n for n in h.notes), name
    # Without a loss or held-out metric the file is still refused, not read as epochs of unknown numbers.
    (tmp_path / "scores.csv").write_text("score,reward\n1,2\n3,4\n", encoding="utf-8")
    with pytest.raises(DataError):
        read_history(tmp_path / "scores.csv")


# ---- folders of runs ---------------------------------------------------------------------------------------------------


def test_a_folder_of_lightning_versions_reads_the_highest_numbered_and_says_so(tmp_path: Path) -> None:
    for version, loss in ((2, 9.0), (9, 5.0), (10, 1.0)):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        folder.mkdir(parents=True)
        write_csv(folder / "metrics.csv", [{"epoch": 0, "step": s, "train_loss": loss} for s in range(5)])
    h = read_history(tmp_path / "lightning_logs")
    assert h.path.endswith("version_10/metrics.csv") and h.train_loss.values[0] == 1.0  # not version_9 (string order)
    assert any("3 CSVLogger versions" in n and "read version_10" in n for n in h.notes)


def test_tensorboard_runs_side_by_side_are_not_merged_into_one(tmp_path: Path) -> None:
    root = tmp_path / "lightning_logs"
    write_events(root / "version_0", [("train_loss", s, 5.0) for s in range(8)])
    write_events(root / "version_1", [("train_loss", s, 1.0) for s in range(8)])
    h = read_history(root)
    assert h.train_loss.values == [1.0] * 8 and any("read version_1" in n for n in h.notes)


def test_add_scalars_subfolders_name_their_series(tmp_path: Path) -> None:
    # SummaryWriter.add_scalars("loss", {"train": ..., "val": ...}) writes tag 'loss' into loss_train/ and loss_val/.
    run = tmp_path / "runs"
    write_events(run, [("lr", s, 1e-3) for s in range(10)])
    write_events(run / "loss_train", [("loss", s, 2.0 - 0.1 * s) for s in range(10)])
    write_events(run / "loss_val", [("loss", s, 2.1 - 0.05 * s) for s in range(0, 10, 2)])
    h = read_history(run)
    assert len(h.train_loss) == 10 and h.eval["val_loss"].values[0] == pytest.approx(2.1)
    assert h.train_loss.steps[:2] == h.lr.steps[:2] == [0.0, 1.0] and h.x_unit == "step"  # the writer's own steps


def test_a_keras_train_event_file_moved_out_of_its_folder_is_still_the_train_side(tmp_path: Path) -> None:
    values = [2.0 * 0.9**e for e in range(12)]
    write_events(
        tmp_path / "logs" / "train", [("epoch_loss", e, v) for e, v in enumerate(values)] + [("epoch_mse", e, 1.0) for e in range(12)]
    )
    in_place = read_history(tmp_path / "logs" / "train")
    moved = tmp_path / "events.out.tfevents.1.v2"
    next((tmp_path / "logs" / "train").glob("*tfevents*")).rename(moved)
    h = read_history(moved)
    assert h.x_unit == in_place.x_unit == "epoch" and h.train_loss.steps == in_place.train_loss.steps
    assert h.train_loss.steps[0] == 1.0 and "mse" in h.train_metrics and any("read as the train side" in n for n in h.notes)


# ---- multi-output models -----------------------------------------------------------------------------------------------


def test_a_multi_output_keras_log_reads_the_total_loss_and_keeps_per_output_metrics_aside(tmp_path: Path) -> None:
    heads = ("audio_pred", "fused_pred")
    rows = []
    for e in range(10):
        row: dict[str, float] = {"epoch": e, "loss": 1.0 - 0.05 * e, "val_loss": 1.1 - 0.04 * e}
        for head in heads:
            row |= {f"{head}_accuracy": 0.6, f"{head}_loss": 0.5, f"val_{head}_accuracy": 0.62, f"val_{head}_loss": 0.52}
        rows.append({k: row[k] for k in ["epoch", *sorted(k for k in row if k != "epoch")]})
    h = read_history(write_csv(tmp_path / "training_log.csv", rows))
    assert h.source == "keras-csv" and sorted(h.eval) == ["val_loss"] and not h.train_metrics
    assert "val_fused_pred_accuracy" in h.extra and any("multi-output model (outputs audio_pred, fused_pred)" in n for n in h.notes)
    # The same names in a Keras History JSON: the same reading.
    (tmp_path / "history.json").write_text(json.dumps({k: [r[k] for r in rows] for k in rows[0] if k != "epoch"}), encoding="utf-8")
    assert sorted(read_history(tmp_path / "history.json").eval) == ["val_loss"]


def test_several_hf_eval_sets_and_a_multi_term_loss_are_not_outputs(tmp_path: Path) -> None:
    records = [{"loss": 1.0 / s, "step": s, "epoch": s / 10} for s in range(1, 21)]
    records += [
        {f"eval_{g}_loss": 1.0, f"eval_{g}_accuracy": 0.5, "step": s, "epoch": s / 10} for s in (5, 10, 15, 20) for g in ("g0", "g1")
    ]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": records}), encoding="utf-8")
    assert {"val_g0_loss", "val_g1_accuracy"} <= set(read_history(tmp_path / "trainer_state.json").eval)
    vae = [{"epoch": 0, "step": s, "train_loss": 3.0, "train_recon_loss": 2.0, "train_kld_loss": 1.0, "val_loss": 3.1} for s in range(6)]
    assert not any("multi-output" in n for n in read_history(write_csv(tmp_path / "metrics.csv", vae)).notes)


# ---- malformed and oversized files: one clear message, exit 2 --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("field.csv", b'epoch,loss\n0,"' + b"a" * 200_000 + b'"\n', "well-formed CSV"),
        ("bytes.csv", b"epoch,loss\n0,1.0\n1,\xff\xfe\n", "UTF-8"),
        ("binary.csv", bytes(range(256)) * 20, "UTF-8"),
    ],
)
def test_a_malformed_csv_is_one_clear_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, rule: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rule):
        read_history(path)
    assert main(["doctor", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_text_log_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "LOG_LIMITS", Limits(max_bytes=1000, max_depth=64, max_aliases=0, max_nodes=None))
    big = write_csv(tmp_path / "metrics.csv", [{"epoch": 0, "step": s, "train_loss": 1.0} for s in range(200)])
    with pytest.raises(DataError, match="at most 1,000 bytes"):
        read_history(big)
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps({"event": "train", "step": s, "loss": 1.0}) + "\n" for s in range(100)))
    with pytest.raises(DataError, match="at most 1,000 bytes"):
        read_history(run)


def test_a_metrics_jsonl_line_that_is_not_utf8_is_skipped_with_a_note(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps({"event": "train", "step": s, "loss": 2.0 / s}).encode() for s in range(1, 9)]
    (run / "metrics.jsonl").write_bytes(b"\n".join([*lines[:4], b"\xff\xfe garbage", *lines[4:]]) + b"\n")
    h = read_history(run)
    assert len(h.train_loss) == 8 and any("line 5 is not JSON" in n for n in h.notes)
    diagnose(h)


# ---- which logged loss is the objective ------------------------------------------------------------------------------


def test_a_lone_train_side_loss_under_its_own_name_is_the_train_loss(tmp_path: Path) -> None:
    # Eve-ning/opal-v2: Lightning logs train/nll_loss and val/rmse_loss, no 'loss'; the NLL is what the run minimises.
    rows = [{"epoch": s // 50, "step": s, "train/nll_loss": 0.06 / (1 + s / 100)} for s in range(49, 1000, 50)]
    rows += [{"epoch": e, "step": 50 * e + 49, "val/rmse_loss": 0.02 - 0.0001 * e} for e in range(20)]
    h = read_history(write_csv(tmp_path / "metrics.csv", rows, header=["epoch", "step", "train/nll_loss", "val/rmse_loss"]))
    assert len(h.train_loss) == 20 and "train_nll_loss" not in h.extra and any("only train-side loss" in n for n in h.notes)
    assert sorted(h.eval) == ["val_rmse_loss"]  # the held-out side is not renamed: RMSE and NLL are different quantities
    # Two losses and no total (a GAN's generator and discriminator): neither is the objective.
    gan = [{"epoch": 0, "step": s, "train_gen_loss": 0.7, "train_disc_loss": 1.3} for s in range(10)]
    h = read_history(write_csv(tmp_path / "gan-metrics.csv", gan))
    assert not h.train_loss and {"train_gen_loss", "train_disc_loss"} <= set(h.extra)


def test_a_vae_elbo_loss_is_its_total_loss(tmp_path: Path) -> None:
    rows = [{"epoch": s // 10, "step": s, "train_elbo_loss": 300 / (s + 1), "train_recon_loss": 250 / (s + 1)} for s in range(40)]
    rows += [{"epoch": e, "step": 10 * e + 9, "val_elbo_loss": 5.0 - 0.1 * e, "val_recon_loss": 2.0} for e in range(4)]
    h = read_history(write_csv(tmp_path / "metrics.csv", rows))
    assert len(h.train_loss) == 40 and len(h.eval_loss) == 4 and "val_recon_loss" in h.eval
