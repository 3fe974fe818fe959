import numpy as np
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.frontend import LogCQT
from hppnet_plugin.inference import AudioFeatureSource


def test_matches_nnaudio_cqt1992v2():
    from nnAudio.features import CQT1992v2

    config = HPPNetConfig.for_variant("tiny")
    ours = LogCQT(config)
    reference = CQT1992v2(sr=16000, hop_length=320, fmin=config.fmin_hz, n_bins=352, bins_per_octave=48,
                          output_format="Magnitude", pad_mode="constant", verbose=False)
    audio = torch.randn(16000) * 0.1
    expected = 10 * torch.log10(reference(audio[None]).clamp_min(1e-8)) / 80
    got = ours(audio)[0, 0]
    assert got.shape == (51, 352)
    torch.testing.assert_close(got, expected[0].T[:51], atol=1e-4, rtol=0)


def test_short_input_is_padded():
    out = LogCQT(HPPNetConfig.for_variant("tiny"))(torch.zeros(100))
    assert out.shape == (1, 1, 1, 352)
    assert torch.all(out == -1.0)  # silence sits on the fixed floor


def test_windows_equal_whole_file_features():
    """Window-by-window CQT (as for long files) equals the CQT of the whole signal."""
    frontend = LogCQT(HPPNetConfig.for_variant("tiny"))
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16000 * 3) * 0.1).astype(np.float32)
    whole = frontend(torch.from_numpy(audio))[0, 0]
    blocks = [audio[i:i + 7000] for i in range(0, len(audio), 7000)]
    source = AudioFeatureSource(iter(blocks), frontend, torch.device("cpu"))
    # Frame 10 is proven to exist after two 7000-sample blocks; the stream's end is not known yet.
    assert source.total_frames(10) == float("inf")
    parts = [source.get(0, 40), source.get(40, 100), source.get(100, len(whole))]
    torch.testing.assert_close(torch.cat(parts), whole, atol=1e-5, rtol=0)
    assert source.total_frames(10 ** 6) == len(whole)
