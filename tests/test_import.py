import json
import subprocess
import sys


def test_import_is_light_and_fast():
    """`import hppnet_plugin` must not pull in torch, TensorFlow, note_seq or nnAudio."""
    code = ("import sys, time, json; t = time.perf_counter(); import hppnet_plugin; "
            "dt = time.perf_counter() - t; heavy = [m for m in ('torch', 'tensorflow', 'note_seq', 'nnAudio', "
            "'basic_pitch', 'pretty_midi') if m in sys.modules]; print(json.dumps([dt, heavy]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = json.loads(out.stdout)
    assert heavy == []
    assert seconds < 1.0, f"import took {seconds:.2f} s"


def test_public_api():
    import hppnet_plugin

    for name in ("load_transcriber", "available_transcribers", "register_transcriber", "Note", "Transcription"):
        assert hasattr(hppnet_plugin, name)
