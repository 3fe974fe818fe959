"""The learning-curve PNG: a run's validations, and a warm-started run drawn after its seed's."""
import pytest

HEADER = "step,wall_s,kind,lr,frame_f1,note_f1,note_offset_f1\n"


def _run(folder, rows):
    folder.mkdir()
    (folder / "metrics.csv").write_text(HEADER + "".join(f"{s},1,{k},0.1,{f},{n},{o}\n" for s, k, f, n, o in rows))
    return folder


def test_a_warm_started_run_continues_from_its_seed(tmp_path):
    pytest.importorskip("matplotlib")
    from hppnet_plugin.training.export import learning_curve_series, plot_learning_curve

    seed = _run(tmp_path / "base", [(100, "validation", 0.8, 0.9, 0.7), (200, "validation", 0.85, 0.95, 0.75),
                                    (300, "validation", 0.5, 0.5, 0.5)])
    sp = _run(tmp_path / "sp", [(10, "train", "", "", ""), (50, "validation", 0.9, 0.97, 0.8)])
    series, offset = learning_curve_series(sp, seed_run=seed, seed_step=200)
    assert offset == 200
    assert series[("seed", "note_f1")] == ([100, 200], [0.9, 0.95])  # the seed up to where sp began
    assert series[("run", "note_f1")] == ([250], [0.97])  # sp's step 50 is step 250 of the whole
    png = plot_learning_curve(sp, tmp_path / "sp.png", seed_run=seed, seed_step=200)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fitted = plot_learning_curve(sp, tmp_path / "fitted.png", ylim=None)  # the axis fitted to a fine-tune's values
    assert fitted.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.pyplot as plt  # noqa: F401  (the figure is closed after saving)

    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="no validation rows"):
        plot_learning_curve(_run(tmp_path / "empty", [(10, "train", "", "", "")]), tmp_path / "x.png")
