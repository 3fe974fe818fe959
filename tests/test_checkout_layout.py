"""A Python started in the repository root imports the source folder hppnet_plugin/, which
has no adapters/ or training/ inside: those still import (the installed layout), without
the editable install's import hook."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# -S: no site hooks, so no editable-install finder; this interpreter's site-packages are added as
# plain paths. They are read here, where site has run: under -S a virtual environment's
# site.getsitepackages() names the base interpreter's, which need not have our dependencies.
SITE_PACKAGES = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
PRELUDE = f"import sys; sys.path[1:1] = {SITE_PACKAGES!r}; "


def run_in_checkout(code: str):
    return subprocess.run([sys.executable, "-S", "-c", PRELUDE + code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_subpackages_import_from_a_checkout():
    result = run_in_checkout(
        "import hppnet_plugin, hppnet_plugin.adapters.pretty_midi, hppnet_plugin.training.cli; "
        "from hppnet_plugin import Note, Transcription; "
        "pm = Transcription(notes=[Note(0.5, 1.0, 60, 80)], duration=1.0).to_pretty_midi(); "
        "print(hppnet_plugin.__file__, len(pm.instruments[0].notes))")
    assert result.returncode == 0, result.stderr
    path, count = result.stdout.split()
    assert Path(path).resolve() == ROOT / "hppnet_plugin" / "__init__.py" and count == "1"


def test_training_command_runs_from_a_checkout():
    result = run_in_checkout("import runpy; sys.argv = ['x', '--help']; "
                             "runpy.run_module('hppnet_plugin.training', run_name='__main__')")
    assert "synth" in result.stdout and "train" in result.stdout, result.stderr
