import sys
import textwrap

import pytest

import hppnet_plugin
from hppnet_plugin import registry
from hppnet_plugin.notes import Note
from hppnet_plugin.transcription import Transcription


@pytest.fixture()
def fake_distribution(tmp_path, monkeypatch):
    """A real installed distribution (dist-info on sys.path) registering two backends,
    one of which fails to import."""
    dist = tmp_path / "hppnet_fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hppnet-fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [hppnet_plugin.transcribers]
        fake-onsets = hppnet_fake_plugin:FakeTranscriber
        broken-backend = hppnet_fake_missing_module:Factory
        """))
    (tmp_path / "hppnet_fake_plugin.py").write_text(textwrap.dedent("""\
        from hppnet_plugin import Note, Transcription

        class FakeTranscriber:
            name = "fake-onsets"
            def __init__(self, pitch=60):
                self.pitch = pitch
            def transcribe(self, audio, sample_rate=None, **options):
                return Transcription(notes=[Note(0.5, 1.0, self.pitch, 80)], duration=1.0, transcriber=self.name)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("hppnet_fake_plugin", None)


def test_builtin_names_are_listed():
    names = hppnet_plugin.available_transcribers()
    assert {"hppnet-sp", "hppnet-base", "hppnet-tiny", "basic-pitch"} <= set(names)


def test_listing_imports_no_backend(fake_distribution):
    assert "fake-onsets" in hppnet_plugin.available_transcribers()
    assert "hppnet_fake_plugin" not in sys.modules


def test_third_party_distribution_backend_loads(fake_distribution):
    t = hppnet_plugin.load_transcriber("fake-onsets", pitch=64)
    result = t.transcribe("ignored.wav")
    assert result.notes == [Note(0.5, 1.0, 64, 80)]


def test_broken_backend_is_a_warning_not_a_failure(fake_distribution):
    with pytest.warns(RuntimeWarning, match="broken-backend"):
        rows = {name: ok for name, ok, _ in registry.check_transcribers()}
    assert rows["broken-backend"] is False
    assert rows["fake-onsets"] is True
    with pytest.raises(ImportError, match="broken-backend.*failed to import"):
        hppnet_plugin.load_transcriber("broken-backend")


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="unknown transcriber 'nope'; installed: .*hppnet-sp"):
        hppnet_plugin.load_transcriber("nope")


def test_register_in_process_backend():
    class Echo:
        name = "echo"

        def transcribe(self, audio, sample_rate=None, **options):
            return Transcription(notes=[], duration=0.0, transcriber="echo")

    hppnet_plugin.register_transcriber("echo-test", Echo)
    try:
        assert "echo-test" in hppnet_plugin.available_transcribers()
        assert isinstance(hppnet_plugin.load_transcriber("echo-test"), Echo)
        with pytest.raises(ValueError, match="already registered"):
            hppnet_plugin.register_transcriber("echo-test", Echo)
        with pytest.raises(TypeError, match="callable"):
            hppnet_plugin.register_transcriber("bad", 42)
    finally:
        registry._runtime_factories.pop("echo-test", None)


def test_a_factory_returning_no_transcriber_is_named_clearly():
    class NoTranscribe:
        name = "broken"

    hppnet_plugin.register_transcriber("returns-junk", NoTranscribe)
    try:
        with pytest.raises(TypeError, match="'returns-junk'.*NoTranscribe without transcribe"):
            hppnet_plugin.load_transcriber("returns-junk")
    finally:
        registry._runtime_factories.pop("returns-junk", None)
