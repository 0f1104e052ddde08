"""make run's bootstrap: missing models trained side by side, each to its own log, failures named."""
from __future__ import annotations

import sys

import pytest

from services.common import bootstrap

STAMP = ("import sys, time; open(sys.argv[1], 'w').write(f'{time.time()} '); time.sleep(1.0); "
         "open(sys.argv[1], 'a').write(f'{time.time()}'); print('done', sys.argv[1])")


def test_trainings_run_side_by_side_each_to_its_own_log(tmp_path, capsys):
    def command(name):
        return [sys.executable, "-c", STAMP, str(tmp_path / f"{name}.stamp")]

    assert bootstrap.train_all(["a", "b"], jobs=2, log_dir=tmp_path / "log", command=command) == []
    (a0, a1), (b0, b1) = ([float(x) for x in (tmp_path / f"{n}.stamp").read_text().split()] for n in "ab")
    assert a0 < b1 and b0 < a1                      # the two intervals overlap: both ran at once
    assert "done" in (tmp_path / "log" / "train-a.log").read_text()
    out = capsys.readouterr().out
    assert "[a] trained in" in out and "[b] trained in" in out and "log:" in out


def test_one_at_a_time_and_a_failure_is_named_with_its_log(tmp_path, capsys):
    def command(name):
        if name == "bad":
            return [sys.executable, "-c", "print('lost the data'); raise SystemExit(3)"]
        return [sys.executable, "-c", STAMP, str(tmp_path / f"{name}.stamp")]

    assert bootstrap.train_all(["bad", "ok"], jobs=2, log_dir=tmp_path / "log", command=command) == ["bad"]
    out = capsys.readouterr().out
    assert "[bad] training FAILED (exit 3)" in out and "[bad]   lost the data" in out and "[ok] trained in" in out

    assert bootstrap.train_all(["x", "y"], jobs=1, log_dir=tmp_path / "none", command=command) == []
    (x0, x1), (y0, y1) = ([float(v) for v in (tmp_path / f"{n}.stamp").read_text().split()] for n in "xy")
    assert x1 <= y0 and not (tmp_path / "none").exists()   # in turn, written to the terminal


def test_train_jobs_is_validated(monkeypatch):
    monkeypatch.setenv("TRAIN_JOBS", "3")
    assert bootstrap.default_jobs() == 3
    monkeypatch.setenv("TRAIN_JOBS", "two")
    with pytest.raises(SystemExit, match="TRAIN_JOBS must be a whole number"):
        bootstrap.default_jobs()
    monkeypatch.delenv("TRAIN_JOBS")
    assert 1 <= bootstrap.default_jobs() <= 2
