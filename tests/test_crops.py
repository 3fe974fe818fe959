"""Training crops: silence beyond a piece's edges (as inference pads files), edge crops that
show the model where recordings start and stop, and note-free pieces drawn more often."""
import numpy as np

from hppnet_plugin.training.data import CropDataset


def _pieces(tmp_path, with_notes=(True, False), frames=300):
    paths = []
    for i, has_notes in enumerate(with_notes):
        rolls = np.zeros((frames, 88), np.uint8)
        if has_notes:
            rolls[10, 5] = 1
        features = np.random.default_rng(i).random((frames, 352)).astype(np.float16)
        path = tmp_path / f"{i}.npz"
        np.savez(path, features=features, onset=rolls, frame=rolls, offset=rolls, velocity=rolls)
        paths.append(path)
    return paths


def test_crop_outside_a_piece_is_silence(tmp_path):
    ds = CropDataset(_pieces(tmp_path), 100)
    before = ds.crop(0, -30)
    assert (before["features"][:30] == -1).all() and before["onset"][40, 5] == 1  # frame 10 at row 40
    after = ds.crop(0, 250)
    assert (after["features"][50:] == -1).all() and not after["frame"][50:].any()
    np.testing.assert_array_equal(after["features"][:50], ds.items[0]["features"][250:])


def test_edge_crops_reach_beyond_both_ends(tmp_path):
    ds = CropDataset(_pieces(tmp_path), 100, edge_crops=True)
    starts = [ds.position(i)[1] for i in range(1000)]
    assert min(starts) == -50 and 245 <= max(starts) <= 249  # up to half a crop beyond either end
    assert sum(s < 0 for s in starts) > 40 and sum(s > 200 for s in starts) > 40
    plain = CropDataset(_pieces(tmp_path), 100)
    assert all(0 <= plain.position(i)[1] <= 200 for i in range(400))


def test_note_free_pieces_can_be_drawn_more_often(tmp_path):
    def share_note_free(weight):  # piece 1 has no notes
        ds = CropDataset(_pieces(tmp_path), 100, note_free_weight=weight)
        return np.mean([ds.position(i)[0] == 1 for i in range(1000)])

    assert 0.45 < share_note_free(1.0) < 0.55 and 0.75 < share_note_free(4.0) < 0.85
