import pytest

from hppnet_plugin.notes import Note
from hppnet_plugin.training.datasets import maestro_pieces, maps_pieces

from .datasets_fixtures import make_maestro, make_maps


@pytest.mark.parametrize("as_json", [False, True])
def test_maestro_index_and_splits(tmp_path, as_json):
    root = make_maestro(tmp_path, as_json=as_json)
    assert [p.name for p in maestro_pieces(root, "train")] == ["piece_a", "piece_b"]
    assert [p.name for p in maestro_pieces(root, "test")] == ["piece_d"]
    assert len(maestro_pieces(root)) == 4
    # piece_a: the first note is released under the pedal (down 0.1 .. up 1.1)
    notes = maestro_pieces(root, "train")[0].notes()
    assert (notes[0].pitch, notes[0].velocity) == (60, 80)
    assert (notes[0].start, notes[0].end) == pytest.approx((0.2, 1.1), abs=1e-3)


def test_maps_split_and_velocity(tmp_path):
    root = make_maps(tmp_path)
    test = maps_pieces(root, "test")
    assert sorted(p.name for p in test) == ["MAPS_MUS-bach_846_ENSTDkAm", "MAPS_MUS-chpn_op10_e01_ENSTDkCl"]
    train = maps_pieces(root, "train")
    assert [p.name for p in train] == ["MAPS_MUS-mz_331_1_AkPnBcht"]  # bach_846 is a test piece
    assert test[0].notes() == [Note(0.5, 1.0, 60, 77), Note(0.75, 1.25, 67, 33)]  # times from .txt, velocity from .mid


def test_missing_index(tmp_path):
    with pytest.raises(FileNotFoundError, match="no MAESTRO index"):
        maestro_pieces(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        maestro_pieces(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no MAPS_MUS"):
        maps_pieces(tmp_path)


def test_missing_files_are_skipped_and_counted(tmp_path, caplog):
    root = make_maestro(tmp_path)
    (root / "2004" / "piece_a.wav").unlink()
    assert [p.name for p in maestro_pieces(root, "train")] == ["piece_b"]
    assert "skipped 1 pieces whose files are missing" in caplog.text and "piece_a.wav" in caplog.text


def test_empty_split_is_an_error(tmp_path):
    root = make_maestro(tmp_path)
    with pytest.raises(ValueError, match="no pieces in split 'nope'.*splits present"):
        maestro_pieces(root, "nope")


def test_unreadable_midi_is_a_clear_error(tmp_path):
    root = make_maestro(tmp_path)
    (root / "2006" / "piece_b.midi").write_bytes(b"garbage")
    piece = maestro_pieces(root, "train")[1]
    with pytest.raises(ValueError, match="cannot read MIDI file .*piece_b.midi"):
        piece.notes()


def test_maps_validation_comes_from_training_pianos_never_from_test(tmp_path):
    from .datasets_fixtures import write_performance

    root = make_maps(tmp_path)
    for i in range(12):  # more synthesized-piano pieces, each on two pianos
        for piano in ("AkPnBcht", "SptkBGCl"):
            stem = root / piano / "MUS" / f"MAPS_MUS-piece{i}_{piano}"
            write_performance(stem.with_suffix(".wav"), stem.with_suffix(".mid"), [(0.5, 1.0, 60, 77)])
            stem.with_suffix(".txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\n0.5\t1.0\t60\n")
    test, train, validation = (maps_pieces(root, s) for s in ("test", "train", "validation"))
    piece = lambda p: p.name.rsplit("_", 1)[0]  # noqa: E731
    assert validation and not ({piece(p) for p in validation} & {piece(p) for p in train})
    assert not {piece(p) for p in validation} & {piece(p) for p in test}
    assert all(p.name.split("_")[-1] not in ("ENSTDkAm", "ENSTDkCl") for p in validation)
    assert len(validation) == 2 * len({piece(p) for p in validation})  # both pianos of a piece together
