"""Shared fixtures: everything is generated in the test (short audio, tiny models)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SR = 16_000


def piano_like_tone(pitch: int, seconds: float, sr: int = SR, start_s: float = 0.0, total_s: float = None):
    """A decaying harmonic tone at ``pitch`` (MIDI), placed at ``start_s``."""
    total_s = total_s or start_s + seconds
    t = np.arange(int(seconds * sr)) / sr
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6) if f0 * h < sr / 2)
    tone = tone * np.exp(-3 * t) * 0.3
    out = np.zeros(int(total_s * sr), np.float32)
    i = int(start_s * sr)
    out[i:i + len(tone)] = tone[: len(out) - i]
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An exported, randomly initialised hppnet-tiny weight file with a sidecar."""
    import torch

    from hppnet_plugin.config import HPPNetConfig
    from hppnet_plugin.model import HPPNet
    from hppnet_plugin.weights import WEIGHTS_FORMAT, sha256_of

    torch.manual_seed(0)
    model = HPPNet(HPPNetConfig.for_variant("tiny"))
    path = tmp_path_factory.mktemp("weights") / "tiny-random.pt"
    torch.save({"format": WEIGHTS_FORMAT, "config": model.config.to_dict(), "state_dict": model.state_dict()}, path)
    path.with_suffix(".json").write_text('{"sha256": "%s"}' % sha256_of(path))
    return path


@pytest.fixture()
def wav_file(tmp_path) -> Path:
    import soundfile as sf

    audio = piano_like_tone(60, 1.0, total_s=2.0, start_s=0.5)
    path = tmp_path / "tone.wav"
    sf.write(path, audio, SR)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With HPPNET_STRICT_DEPS=1 (set by .ci/run, which installs every optional dependency) a
    test skipped for a missing dependency fails: a skip there would hide lost coverage."""
    import os

    outcome = yield
    report = outcome.get_result()
    # An expected failure (xfail) is reported as skipped too; only a real skip counts.
    if os.environ.get("HPPNET_STRICT_DEPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped although HPPNET_STRICT_DEPS=1 (CI installs every dependency): {report.longrepr}"
