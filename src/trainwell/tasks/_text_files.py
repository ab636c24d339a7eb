"""Reading labelled text files: GLUE SST-2 ``sentence<TAB>label`` .tsv and dair-ai emotion ``text;label`` .txt.

Torch-free, so it can be tested and reused without transformers.
"""

from __future__ import annotations

from pathlib import Path

from trainwell.errors import DataError, Problem

HEADER_LABELS = {"label", "label_name", "labels", "target", "class", "sentiment", "emotion"}
SIBLINGS = ("dev.tsv", "val.txt", "validation.tsv", "validation.txt", "dev.txt", "val.tsv")


def delimiter(path: Path, first_line: str) -> str:
    """A tab for .tsv files or lines holding a tab (SST-2), else ';' (emotion)."""
    return "\t" if path.suffix == ".tsv" or "\t" in first_line else ";"


def read_labelled(path: Path, header: bool | str = "auto") -> tuple[list[str], list[str]]:
    """(texts, labels) from one file; the label is the last field, so the text itself may hold the delimiter.

    ``header`` "auto" drops a first line whose label field is a column name such as 'label' or 'label_name'.
    """
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(problems=[Problem(str(path), "must be a readable UTF-8 text file", type(exc).__name__, str(exc))]) from None
    if not lines:
        raise DataError(problems=[Problem(str(path), "must hold at least one labelled line", 0, "check data.path")])
    sep = delimiter(path, lines[0])
    rows = [line.rsplit(sep, 1) for line in lines]
    if header == "auto":
        header = len(rows[0]) == 2 and rows[0][1].strip().lower() in HEADER_LABELS
    if header:
        rows = rows[1:]
    bad = [i for i, r in enumerate(rows) if len(r) != 2 or not r[1].strip()]
    if bad:
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    f"every line must be 'text{'<TAB>' if sep == chr(9) else sep}label'",
                    f"{len(bad)} lines without a label, first: {lines[bad[0] + int(bool(header))][:60]!r}",
                    "use an SST-2 .tsv or emotion .txt file with labels",
                )
            ]
        )
    texts, labels = [r[0].strip() for r in rows], [r[1].strip() for r in rows]
    if len(set(labels)) > max(50, len(labels) // 2):
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    "the last field must be a class label",
                    f"{len(set(labels))} distinct values",
                    "this looks like an unlabelled file (e.g. GLUE test.tsv); use train.tsv / dev.tsv",
                )
            ]
        )
    return texts, labels


def class_names(labels: list[str]) -> list[str]:
    """Sorted class names; integer labels (SST-2's 0/1) sort numerically so '10' follows '9'."""
    unique = set(labels)
    if all(v.lstrip("-").isdigit() for v in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def sibling_validation(path: Path) -> Path | None:
    """dev.tsv or val.txt (and close variants) next to the training file, as GLUE and emotion ship them."""
    for name in SIBLINGS:
        candidate = path.with_name(name)
        if candidate != path and candidate.is_file():
            return candidate
    return None
