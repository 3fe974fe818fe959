"""Distillation toward a teacher: the loss (0 where student and teacher agree, only over the
crops that may be distilled), which crops those are, the run's option errors, and a metrics log
with older columns upgraded on resume."""
import csv
import dataclasses

import numpy as np
import pytest
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.model import HPPNet
from hppnet_plugin.training.data import CropDataset, collate
from hppnet_plugin.training.distill import distillation_loss, distilled_sources, load_teacher
from hppnet_plugin.training.runlog import METRIC_COLUMNS, drop_rows_after

from .test_crops import _pieces


def _logits(seed, batch=2):
    g = torch.Generator().manual_seed(seed)
    return {h: torch.randn(batch, 20, 88, generator=g) * 3 for h in ("onset", "frame", "offset")}


def test_distillation_loss_is_zero_only_where_the_student_agrees():
    teacher, other = _logits(0), _logits(1)
    both = torch.ones(2)
    assert distillation_loss(teacher, teacher, both).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(other, teacher, both).item() > 0.5
    # A crop left out (mask 0) does not count, however far from the teacher it is.
    mixed = {h: torch.stack([teacher[h][0], other[h][1]]) for h in teacher}
    assert distillation_loss(mixed, teacher, torch.tensor([1.0, 0.0])).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(mixed, teacher, torch.tensor([0.0, 1.0])).item() > 0.5
    assert distillation_loss(mixed, teacher, torch.zeros(2)).item() == 0.0


def test_only_crops_of_pieces_with_notes_and_allowed_sources_are_distilled(tmp_path):
    paths = _pieces(tmp_path, with_notes=(True, False, True))
    ds = CropDataset(paths, 100, distill_sources=[True, True, False])
    assert ds.distill.tolist() == [1.0, 0.0, 0.0]  # the note-free piece and the excluded source: no
    crops = [ds[i] for i in range(12)]
    batch = collate(crops)
    assert batch["distill"].tolist() == [float(ds.distill[ds.position(i)[0]]) for i in range(12)]
    assert CropDataset(paths, 100).distill.tolist() == [1.0, 0.0, 1.0]


def test_excluded_sources_must_name_pieces_of_a_synth_corpus(tmp_path):
    from .datasets_fixtures import make_maestro

    root = make_maestro(tmp_path / "maestro")
    paths = [tmp_path / "piece_a-0123456789abcdef.npz"]
    assert distilled_sources(paths, root).tolist() == [True]
    with pytest.raises(ValueError, match="no source/soundfont columns"):
        distilled_sources(paths, root, ["speech-texture"])
    index = root / "maestro-v3.0.0.csv"
    rows = list(csv.DictReader(index.open()))
    with index.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]) + ["source", "soundfont"])
        writer.writeheader()
        writer.writerows({**r, "source": "speech-texture" if r["canonical_title"] == "piece_a" else "x.mid",
                          "soundfont": "modal-piano-p3" if r["canonical_title"] == "piece_b" else "FluidR3_GM-p0"}
                         for r in rows)
    both = paths + [tmp_path / "piece_b-0123456789abcdef.npz"]
    assert distilled_sources(both, root, ["speech-texture"]).tolist() == [False, True]
    assert distilled_sources(both, root, (), ["modal-piano"]).tolist() == [True, False]  # every program
    assert distilled_sources(both, root, ["speech-texture"], ["modal-piano-p3"]).tolist() == [False, False]
    with pytest.raises(ValueError, match="name no piece.*generated sources"):
        distilled_sources(paths, root, ["speech"])
    with pytest.raises(ValueError, match="voices: .*FluidR3_GM-p0"):
        distilled_sources(paths, root, (), ["modal-piano-p4"])


def test_a_teacher_must_read_the_same_features(tmp_path):
    config = HPPNetConfig.for_variant("tiny")
    path = tmp_path / "teacher.pt"
    torch.save({"config": dataclasses.replace(config, log_floor_db=config.log_floor_db - 20).to_dict(),
                "state_dict": HPPNet(config).state_dict()}, path)
    with pytest.raises(ValueError, match="other features.*log_floor_db"):
        load_teacher(path, config, torch.device("cpu"))
    torch.save({"config": config.to_dict(), "state_dict": HPPNet(config).state_dict()}, path)
    teacher = load_teacher(path, config, torch.device("cpu"))
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


def test_a_metrics_log_with_older_columns_is_rewritten_with_todays(tmp_path):
    path = tmp_path / "metrics.csv"
    old = [c for c in METRIC_COLUMNS if c != "loss_distill"]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, old)
        writer.writeheader()
        writer.writerows([{"step": 20, "kind": "train", "loss_total": 0.1}, {"step": 40, "kind": "train"}])
    drop_rows_after(path, 40)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == METRIC_COLUMNS and [r["step"] for r in rows] == ["20", "40"]
    assert rows[0]["loss_total"] == "0.1" and rows[0]["loss_distill"] == ""


def test_where_the_teacher_errs_only_the_labels_teach():
    teacher = _logits(0)
    labels = {h: (torch.sigmoid(teacher[h]) > 0.5).float() for h in teacher}  # the teacher right everywhere
    student = _logits(1)
    both = torch.ones(2)
    assert distillation_loss(student, teacher, both, labels).item() == pytest.approx(
        distillation_loss(student, teacher, both).item())
    # Where every label contradicts the teacher, nothing is distilled, however far the student is.
    wrong = {h: 1 - labels[h] for h in labels}
    assert distillation_loss(student, teacher, both, wrong).item() == 0.0
    # One missed onset: the divergence there drops out, the rest stays.
    missed = {h: labels[h].clone() for h in labels}
    b, t, k = torch.nonzero(labels["onset"] == 0)[0].tolist()
    missed["onset"][b, t, k] = 1.0
    student["onset"][b, t, k] = teacher["onset"][b, t, k] + 12  # far from the teacher there
    full, masked = (distillation_loss(student, teacher, both, x).item() for x in (labels, missed))
    assert masked < full
    p, q = torch.sigmoid(teacher["onset"][b, t, k]), torch.sigmoid(student["onset"][b, t, k])
    kl = p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))
    # its share of the mean: over 20 x 88 frames and keys, 2 crops, 3 heads
    assert full - masked == pytest.approx(kl.item() / teacher["onset"][0].numel() / 2 / 3, rel=1e-3)
