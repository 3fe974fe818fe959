"""Chunked inference: stitched windows give what one pass over everything gives."""
import numpy as np
import pytest
import torch
from torch import nn

from hppnet_plugin.decoding import NoteDecoder, decode_rolls
from hppnet_plugin.inference import FeatureArraySource, choose_device, stream_rolls


class FrameLocalModel(nn.Module):
    """Outputs depend on each frame (and its neighbours) only, so chunking with
    enough context must reproduce the unchunked output exactly."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, (3, 4), stride=(1, 4), padding=(1, 0))
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, features, heads=("onset", "frame", "velocity")):
        x = self.conv(features)[:, 0] * 10
        return {h: x + i for i, h in enumerate(heads)}


def test_stitched_windows_equal_one_pass_and_keep_every_note():
    torch.manual_seed(0)
    model = FrameLocalModel()
    features = torch.randn(1037, 352)
    padded = torch.cat([torch.full((5, 352), -1.0), features, torch.full((5, 352), -1.0)])
    whole = {h: torch.sigmoid(v[0, 5:-5]).detach().numpy()
             for h, v in model(padded[None, None]).items()}
    pieces = list(stream_rolls(model, FeatureArraySource(features), chunk_frames=100, context_frames=3,
                               batch_size=3, edge_frames=5))
    assert [s for s, _ in pieces] == list(range(0, 1037, 100))
    for head in whole:
        stitched = np.concatenate([p[head] for _, p in pieces])
        np.testing.assert_allclose(stitched, whole[head], atol=1e-5)
    decoder = NoteDecoder()
    for _, p in pieces:
        decoder.push(p["onset"], p["frame"], p["velocity"])
    assert decoder.finish() == decode_rolls(whole["onset"], whole["frame"], whole["velocity"])
    # Cross-faded windows blend two windows' views of the same frames: a model that looks at one
    # frame at a time sees the same there, so the blend is the one pass too.
    for n in (1037, 1001):  # the last core longer, and shorter, than half the fade
        faded = list(stream_rolls(model, FeatureArraySource(features[:n]), chunk_frames=100, context_frames=3,
                                  batch_size=3, edge_frames=5, crossfade_frames=4))
        assert faded[0][0] == 0 and all(a + len(p["frame"]) == b for (a, p), (b, _) in zip(faded, faded[1:]))
        reference = {h: torch.sigmoid(v[0, 5:-5]).detach().numpy() for h, v in model(torch.cat(
            [torch.full((5, 352), -1.0), features[:n], torch.full((5, 352), -1.0)])[None, None]).items()}
        for head in whole:
            np.testing.assert_allclose(np.concatenate([p[head] for _, p in faded]), reference[head], atol=1e-5)
    with pytest.raises(ValueError, match="crossfade_frames"):
        list(stream_rolls(model, FeatureArraySource(features), chunk_frames=100, context_frames=3,
                          crossfade_frames=8))


def test_device_choice(monkeypatch):
    import pytest

    assert choose_device("cpu").type == "cpu"
    # "auto" prefers CUDA, then MPS, then the CPU: what the machine has decides, in that order.
    mps = getattr(torch.backends, "mps", None)
    for cuda, apple, expected in ((True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        if mps is not None:
            monkeypatch.setattr(mps, "is_available", lambda apple=apple: apple)
        elif expected == "mps":
            continue
        assert choose_device("auto").type == expected
    monkeypatch.undo()
    assert choose_device("auto").type == ("cuda" if torch.cuda.is_available() else
                                          "mps" if mps is not None and mps.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        choose_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        choose_device("gpu0")


def test_long_stream_keeps_memory_bounded():
    """10 minutes of audio stream through window by window: the audio buffer never
    holds more than one window plus one input block, whatever the length."""
    from hppnet_plugin.config import HPPNetConfig
    from hppnet_plugin.frontend import LogCQT
    from hppnet_plugin.inference import AudioFeatureSource

    block = np.zeros(160_000, np.float32)  # 10 s blocks, as the file reader yields them
    n_blocks = 60
    frontend = LogCQT(HPPNetConfig.for_variant("tiny"))
    source = AudioFeatureSource((block for _ in range(n_blocks)), frontend, torch.device("cpu"))
    largest = 0

    class Probe(FrameLocalModel):
        def forward(self, features, heads=("onset", "frame", "velocity")):
            nonlocal largest
            largest = max(largest, len(source.buffer))
            return super().forward(features, heads)

    frames = 0
    for start, probs in stream_rolls(Probe(), source, chunk_frames=1000, context_frames=100, batch_size=2):
        assert start == frames
        frames += len(probs["frame"])
    assert frames == 160_000 * n_blocks // 320 + 1
    window_samples = (1000 + 2 * 100) * 320 * 2 + 2 * frontend.padding  # batch of 2 windows
    assert largest <= window_samples + len(block)
