"""`dejacache bench` runs end to end and writes its report."""

import json
import subprocess
import sys

from dejacache.cli import main


def test_bench_runs_and_reports(tmp_path, capsys):
    report = tmp_path / "r.json"
    rc = main(
        [
            "bench",
            "--requests",
            "400",
            "--unique",
            "40",
            "--latency-ms",
            "1",
            "--get-loops",
            "1000",
            "--no-progress",
            "--report",
            str(report),
        ]
    )
    assert rc == 0
    data = json.loads(report.read_text())
    assert 0.5 < data["hit_rate"] < 1.0
    assert data["llm_calls"] == data["cache"]["stores"] <= 40
    assert data["hit_latency_us"]["p50"] < data["miss_latency_us"]["p50"]
    assert "hit rate" in capsys.readouterr().out


def test_console_script_without_arguments_prints_help():
    out = subprocess.run([sys.executable, "-m", "dejacache.cli"], capture_output=True, text=True)
    assert out.returncode == 2 and "bench" in out.stdout


def test_bad_arguments_are_refused(tmp_path):
    try:
        main(["bench", "--requests", "0", "--no-progress", "--report", str(tmp_path / "x.json")])
    except SystemExit as exc:
        assert "--requests must be at least 1" in str(exc)
    else:
        raise AssertionError("expected SystemExit")
