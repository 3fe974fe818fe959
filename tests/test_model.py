import pytest
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.model import HEADS, HarmonicDilatedConv, HPPNet, count_parameters


def test_hdconv_fast_form_equals_eight_dilated_convs():
    torch.manual_seed(0)
    conv = HarmonicDilatedConv(16, 32, HPPNetConfig().dilations)
    x = torch.randn(2, 16, 13, 352)
    fast, reference = conv(x), conv.forward_reference(x)
    assert fast.shape == reference.shape == (2, 32, 13, 352)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)


def test_trunk_inference_slices_time_exactly():
    """Without autograd the trunk runs HD-Conv + pooling in time slices (memory, speed);
    the result must equal the one-pass form, including a ragged last slice."""
    from hppnet_plugin.model import HDCONV_TIME_BLOCK, Trunk

    torch.manual_seed(0)
    trunk = Trunk(HPPNetConfig.for_variant("tiny", channels=8)).eval()
    x = torch.randn(2, 1, 3 * HDCONV_TIME_BLOCK + 5, 352)
    whole = trunk(x)  # grad enabled: one pass
    with torch.no_grad():
        sliced = trunk(x)
    torch.testing.assert_close(sliced, whole.detach(), rtol=1e-5, atol=1e-5)


def test_hdconv_dilations_are_the_papers():
    assert HPPNetConfig().dilations == (48, 76, 96, 111, 124, 135, 144, 152)


def test_hdconv_weights_are_stored_in_branch_layout():
    conv = HarmonicDilatedConv(16, 8, HPPNetConfig().dilations)
    keys = set(conv.state_dict())
    assert keys == {f"branches.{i}.{p}" for i in range(8) for p in ("weight", "bias")}
    assert conv.state_dict()["branches.0.weight"].shape == (8, 16, 1, 3)


@pytest.mark.parametrize("variant,channels", [("sp", 128), ("base", 128), ("tiny", 48)])
def test_variants_shapes(variant, channels):
    config = HPPNetConfig.for_variant(variant)
    assert config.channels == channels
    model = HPPNet(config)
    out = model(torch.randn(1, 1, 20, 352))
    assert set(out) == set(HEADS)
    assert all(v.shape == (1, 20, 88) for v in out.values())


def test_parameter_counts_are_the_model_cards():
    """The counts docs/model-card.md gives (the paper's text read literally; its own totals differ)."""
    counts = {v: count_parameters(HPPNet(HPPNetConfig.for_variant(v))) for v in ("sp", "base", "tiny")}
    assert counts == {"sp": 2_520_900, "base": 1_458_596, "tiny": 240_676}


def test_sp_onset_is_detached_from_other_heads():
    torch.manual_seed(0)
    model = HPPNet(HPPNetConfig.for_variant("sp", channels=8))
    out = model(torch.randn(1, 1, 10, 352), heads=("onset", "frame"))
    out["frame"].sum().backward()
    assert all(p.grad is None for p in model.onset_trunk.parameters())
    assert any(p.grad is not None for p in model.trunk.parameters())


def test_config_roundtrip_and_errors():
    config = HPPNetConfig.for_variant("hppnet-base")
    assert HPPNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown HPPNet variant"):
        HPPNetConfig.for_variant("huge")
    with pytest.raises(ValueError, match="newer hppnet-plugin"):
        HPPNetConfig.from_dict({**config.to_dict(), "future_field": 1})


def test_instance_norm_gradient_is_exact_for_channels_last_and_permuted_gradients():
    """The FG-LSTM's permute hands the trunk a channels-last gradient; torch 2.13's
    nn.InstanceNorm2d CPU backward gets that wrong, ours must not."""
    from hppnet_plugin.model import instance_norm

    torch.manual_seed(0)
    norm = instance_norm(16)
    norm.weight.data = torch.randn(16)
    x = torch.randn(1, 16, 30, 88)
    grad_out = torch.randn(1, 88, 30, 16).permute(0, 3, 2, 1)

    def reference(x):
        mean = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-5) * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)

    xr = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad((reference(xr) * grad_out.contiguous()).sum(), xr)
    for layout in (torch.contiguous_format, torch.channels_last):
        xi = x.clone().contiguous(memory_format=layout).requires_grad_()
        (got,) = torch.autograd.grad((norm(xi) * grad_out).sum(), xi)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_front_end_constants_are_validated_not_silently_ignored():
    """Audio loading, labels and metrics assume 16 kHz, hop 320 and 4 CQT bins per key."""
    with pytest.raises(ValueError, match="sample_rate=22050 is not supported"):
        HPPNetConfig.for_variant("tiny", sample_rate=22050)
    with pytest.raises(ValueError, match="hop_length=512"):
        HPPNetConfig.for_variant("tiny", hop_length=512)
