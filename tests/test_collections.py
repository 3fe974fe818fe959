"""Collections: manifest rows, --skip-existing, --shard, output naming, URL outputs, and the
same batch on a local Ray (2 CPUs, seconds of audio)."""
import json
import shutil
import subprocess
import sys

import pytest

from hppnet_plugin.batch import find_inputs, parse_shard, plan_jobs, shard_of
from hppnet_plugin.jobs import read_manifest
from hppnet_plugin.cli import main


@pytest.fixture
def collection(wav_file, tmp_path):
    """music/a.wav, music/b.wav, music/sub/c.wav and music/broken.wav (not audio)."""
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        shutil.copy(wav_file, music / name)
    (music / "broken.wav").write_bytes(b"RIFF but not really a wave file")
    return music


def _options(tiny_checkpoint):
    return ["--model", "hppnet-tiny", "--checkpoint", str(tiny_checkpoint), "--precision", "fp32",
            "--threads", "1", "--quiet"]


def test_shards_partition_the_inputs_whatever_their_order(tmp_path):
    files = [(tmp_path / f"{i:02d}.wav", None) for i in range(11)]
    for n in (1, 2, 3, 7, 11, 13):
        shards = [shard_of(files, k, n) for k in range(1, n + 1)]
        assert sorted(p for shard in shards for p, _ in shard) == sorted(p for p, _ in files)
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert shards == [shard_of(list(reversed(files)), k, n) for k in range(1, n + 1)]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "1/0", "a/b", "3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_manifest_rows_failed_file_and_skip_existing(collection, tiny_checkpoint, tmp_path, capsys):
    out, manifest = tmp_path / "out", tmp_path / "runs" / "manifest.jsonl"
    args = ["transcribe", str(collection), "-o", str(out), "--format", "mid,csv", "--manifest", str(manifest)]
    assert main(args + _options(tiny_checkpoint)) == 1  # the broken file fails, the others finish
    assert "3 of 4 files transcribed, 1 failed" in capsys.readouterr().err
    rows = {r["input"]: r for r in read_manifest(manifest)}
    assert len(rows) == 4
    broken = rows[str(collection / "broken.wav")]
    assert broken["status"] == "failed" and broken["error"] and broken["notes"] is None
    good = rows[str(collection / "sub" / "c.wav")]
    assert good["status"] == "ok" and good["error"] == ""
    assert good["outputs"] == [str(out / "sub" / "c.mid"), str(out / "sub" / "c.csv")]  # subfolders kept
    assert good["duration_s"] == pytest.approx(2.0, abs=0.01) and good["notes"] >= 0 and good["seconds"] > 0
    assert good["transcriber"] == "hppnet-tiny" and len(good["weights_sha256"]) == 64
    assert not (out / "broken.mid").exists()

    # A rerun transcribes nothing that is done; the broken file is tried (and fails) again.
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.mid")}
    assert main(args + ["--skip-existing"] + _options(tiny_checkpoint)) == 1
    assert "0 of 4 files transcribed, 3 skipped (outputs exist), 1 failed" in capsys.readouterr().err
    rerun = read_manifest(manifest)[4:]
    assert sorted(r["status"] for r in rerun) == ["failed", "skipped", "skipped", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mid")} == mtimes

    # An input whose run was killed between two outputs gets the missing one, the other is kept.
    (out / "a.csv").unlink()
    before = (out / "a.mid").stat().st_mtime_ns
    assert main(["transcribe", str(collection / "a.wav"), "-o", str(out), "--format", "mid,csv",
                 "--skip-existing"] + _options(tiny_checkpoint)) == 0
    assert (out / "a.csv").exists() and (out / "a.mid").stat().st_mtime_ns == before


def test_contradictions_and_collisions_stop_before_any_work(collection, wav_file, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["transcribe", str(collection), "-o", str(out), "--overwrite", "--skip-existing"]) == 2
    assert "choose one" in capsys.readouterr().err
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(wav_file, other / "a.wav")
    assert main(["transcribe", str(collection / "a.wav"), str(other / "a.wav"), "-o", str(out)]
                + _options(tiny_checkpoint)) == 2
    assert "would both write" in capsys.readouterr().err
    assert not out.exists()
    assert main(["transcribe", str(collection), "--shard", "5/4"]) == 2
    assert "1 <= K <= N" in capsys.readouterr().err


def test_shard_cli_and_url_output(collection, tiny_checkpoint, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "bucket"
    written, codes = [], []
    for k in (1, 2):
        manifest = tmp_path / f"shard{k}.jsonl"
        code = main(["transcribe", str(collection), "-o", f"file://{out}", "--shard", f"{k}/2",
                     "--manifest", str(manifest)] + _options(tiny_checkpoint))
        codes.append(code)
        written.append({r["input"] for r in read_manifest(manifest)})
    assert sorted(codes) == [0, 1]  # the shard holding broken.wav reports it (1); the other succeeds
    assert written[0].isdisjoint(written[1]) and len(written[0] | written[1]) == 4
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mid")) == ["a.mid", "b.mid", "sub/c.mid"]
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.suffix not in (".mid",)]
    assert leftovers == []  # no temporary file (atomic_write's .<name>.XXXX.tmp) left behind


def test_plan_keeps_outputs_beside_inputs_without_output_dir(collection):
    jobs = plan_jobs(find_inputs([collection]), None, ["mid"])
    assert {j.outputs["mid"] for j in jobs} == {str(collection / "a.mid"), str(collection / "b.mid"),
                                                str(collection / "sub" / "c.mid"), str(collection / "broken.mid")}


# ---------------------------------------------------------------------------------------- Ray
def test_ray_without_a_cluster_is_a_clear_error(wav_file, tmp_path, capsys):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray runtime is already running in this process")
    code = main(["transcribe", str(wav_file), "-o", str(tmp_path / "o"), "--ray", "auto", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot start Ray (address auto)" in err and "ray start --head" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_batch_matches_the_single_process_cli(local_ray, collection, tiny_checkpoint, tmp_path, capsys):
    single, on_ray = tmp_path / "single", tmp_path / "ray"
    assert main(["transcribe", str(collection), "-o", str(single), "--format", "mid,csv"]
                + _options(tiny_checkpoint)) == 1
    manifest = tmp_path / "ray.jsonl"
    code = main(["transcribe", str(collection), "-o", str(on_ray), "--format", "mid,csv", "--ray",
                 "--actors", "2", "--manifest", str(manifest)] + _options(tiny_checkpoint))
    assert code == 1  # the broken file is a failed row; the batch itself finished
    rows = read_manifest(manifest)
    assert sorted(r["status"] for r in rows) == ["failed", "ok", "ok", "ok"]
    assert all(len(r["weights_sha256"]) == 64 for r in rows)
    files = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files(on_ray) == files(single) == ["a.csv", "a.mid", "b.csv", "b.mid", "sub/c.csv", "sub/c.mid"]
    for name in files(single):
        assert (on_ray / name).read_bytes() == (single / name).read_bytes(), name
    capsys.readouterr()

    # Resuming with --skip-existing on Ray: nothing done is transcribed again.
    assert main(["transcribe", str(collection), "-o", str(on_ray), "--format", "mid,csv", "--ray",
                 "--skip-existing", "--manifest", str(manifest)] + _options(tiny_checkpoint)) == 1
    assert sorted(r["status"] for r in read_manifest(manifest)[4:]) == ["failed", "skipped", "skipped", "skipped"]


def test_ray_from_python(local_ray, collection, tiny_checkpoint, tmp_path):
    from hppnet_plugin import transcribe_collection

    rows = transcribe_collection([collection / "a.wav", collection / "b.wav"], output_dir=tmp_path / "o",
                                 formats="csv", model="hppnet-tiny", checkpoint=str(tiny_checkpoint),
                                 ray=True, actors=1, progress=False, threads=1)
    assert sorted(r["status"] for r in rows) == ["ok", "ok"]
    assert json.loads(json.dumps(rows)) == rows  # plain JSON, as written to a manifest


def test_ray_missing_is_a_clear_error(wav_file, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["transcribe", str(wav_file), "--ray"]) == 2
    assert "pip install 'hppnet-plugin[ray]'" in capsys.readouterr().err


def test_a_normal_ray_run_prints_no_warnings_or_errors(wav_file, tmp_path):
    """A local Ray run from the command line: the summary line, and nothing from Ray itself
    (deprecations, token notices, actor restart errors, disabled progress bars)."""
    pytest.importorskip("ray")
    result = subprocess.run([sys.executable, "-m", "hppnet_plugin.cli", "transcribe", str(wav_file), "-o",
                             str(tmp_path / "o"), "--ray", "--actors", "1", "--threads", "1", "--quiet",
                             "--model", "hppnet-tiny"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == ["1 of 1 files transcribed"], result.stderr[-2000:]
