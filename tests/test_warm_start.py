"""hppnet-sp seeded from hppnet-base computes base's outputs, and train --init-from uses it."""
import pytest
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.model import HEADS, HPPNet
from hppnet_plugin.training.warm_start import sp_config_from_base, sp_state_from_base


def _random_base(channels=8):
    torch.manual_seed(0)
    base = HPPNet(HPPNetConfig.for_variant("base", channels=channels)).eval()
    with torch.no_grad():
        for p in base.parameters():
            p.normal_(0, 0.3)  # far from init, so every path matters
    return base


def test_seeded_sp_computes_exactly_what_base_computes():
    base = _random_base()
    sp = HPPNet(sp_config_from_base(base.config)).eval()
    sp.load_state_dict(sp_state_from_base(base.state_dict()))  # strict: every sp parameter is seeded
    x = torch.randn(2, 1, 37, 352)
    with torch.no_grad():
        a, b = base(x), sp(x)
    for head in HEADS:
        torch.testing.assert_close(a[head], b[head], rtol=0, atol=0)
    # The onset channel really is an input of the seeded heads (zero weight, not absent).
    assert sp.heads["frame"].lstm.weight_ih_l0.shape[1] == base.config.channels + 1
    assert sp.heads["frame"].lstm.weight_ih_l0[:, -1].abs().max() == 0


def test_only_base_weights_seed_an_sp():
    with pytest.raises(ValueError, match="needs hppnet-base"):
        sp_config_from_base(HPPNetConfig.for_variant("tiny"))


def test_init_from_checks_the_architecture(tmp_path):
    from hppnet_plugin.training.loop import _initial_state
    from hppnet_plugin.weights import WEIGHTS_FORMAT

    base = _random_base()
    path = tmp_path / "base.pt"
    torch.save({"format": WEIGHTS_FORMAT, "config": base.config.to_dict(), "state_dict": base.state_dict()}, path)
    sp_config = HPPNetConfig.for_variant("sp", channels=8)
    assert set(_initial_state(path, sp_config)) == set(HPPNet(sp_config).state_dict())
    assert set(_initial_state(path, base.config)) == set(base.state_dict())
    with pytest.raises(ValueError, match="E=8"):
        _initial_state(path, HPPNetConfig.for_variant("sp", channels=16))
    # Shipped weights carry calibrated decoding thresholds; they seed a run all the same.
    calibrated = {**base.config.to_dict(), "onset_threshold": 0.6, "frame_threshold": 0.7, "min_note_ms": 60.0}
    torch.save({"format": WEIGHTS_FORMAT, "config": calibrated, "state_dict": base.state_dict()}, path)
    seeded = _initial_state(path, sp_config)
    key = next(k for k in seeded if k.startswith("onset_trunk."))
    torch.testing.assert_close(seeded[key], base.state_dict()[key.removeprefix("onset_")])
    assert set(_initial_state(path, base.config)) == set(base.state_dict())
    with pytest.raises(ValueError, match="tiny"):
        _initial_state(path, HPPNetConfig.for_variant("tiny", channels=8))
