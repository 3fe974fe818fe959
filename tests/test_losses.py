import pytest
import torch

from hppnet_plugin.training.losses import hppnet_losses, partial_onset_negatives


def onset_labels():
    """C3 (key 27) struck at frame 10; D4 (key 41, on none of its partials) at frame 30."""
    onset = torch.zeros(1, 50, 88)
    onset[0, 10, 27] = 1.0
    onset[0, 30, 41] = 1.0
    return onset


def test_partial_negatives_are_the_partials_of_a_key_being_struck():
    negatives = partial_onset_negatives(onset_labels())
    # C4, G4, C5, E5, G5 from the frame before C3's onset to two frames after it, and nowhere else
    # (the decoder's threshold on partials applies there).
    for key in (39, 46, 51, 55, 58):
        assert negatives[0, 9:13, key].tolist() == [1.0] * 4
        assert negatives[0, :9, key].sum() == 0 and negatives[0, 13:, key].sum() == 0
    assert negatives[0, :, 27].sum() == 0  # the struck key itself
    assert negatives[0, 30, 41 + 12] == 1.0  # D5 above D4
    assert negatives.sum() == 4 * 5 + 4 * 5


def test_a_real_onset_on_a_partial_is_not_a_negative():
    onset = onset_labels()
    onset[0, 10, 39] = 1.0  # C4 struck with C3: an octave, not a partial's false onset
    assert partial_onset_negatives(onset)[0, 10, 39] == 0.0


@pytest.mark.parametrize("weight", [1.0, 4.0])
def test_the_weight_scales_only_the_onset_loss_on_partials(weight):
    onset = onset_labels()
    batch = {"onset": onset, "frame": onset, "offset": onset, "velocity": onset * 0.5}
    logits = {k: torch.zeros(1, 50, 88) for k in ("onset", "frame", "offset", "velocity")}
    logits["onset"][0, 10, 39] = 3.0  # a confident false onset on C3's octave
    plain, weighted = hppnet_losses(logits, batch), hppnet_losses(logits, batch, partial_negative_weight=weight)
    extra = torch.nn.functional.softplus(torch.tensor(3.0)) - torch.nn.functional.softplus(torch.tensor(0.0))
    negatives = partial_onset_negatives(onset).sum()
    expected = plain["onset"] + (weight - 1.0) * (negatives * torch.log(torch.tensor(2.0)) + extra) / onset.numel()
    assert weighted["onset"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert weighted["frame"] == plain["frame"]
