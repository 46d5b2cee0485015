"""``tagger tune --storage postgresql://...``: two processes at once on one study, in a real PostgreSQL server."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

pytest.importorskip(
    "psycopg2", reason="the postgres extra is not installed: pip install -c constraints.txt -e '.[postgres]'"
)

TINY = ["--set", "word_dim=8", "--set", "char_dim=4", "--set", "char_hidden=4", "--set", "casing_dim=2"]


def _binary(name: str) -> str | None:
    """A PostgreSQL program on the PATH, or in Debian's /usr/lib/postgresql/VERSION/bin (the newest)."""
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server on 127.0.0.1 in a temporary data directory (as the postgres user when run as root)."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL's initdb and pg_ctl not found (Debian: apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres user to run the server as")
    data = Path(tempfile.mkdtemp(prefix="tagger-postgres-"))
    if user:
        os.chown(data, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid} if user else {}
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120, "cwd": data, **as_user}
    subprocess.run([initdb, "-D", str(data / "db"), "-U", "postgres", "-A", "trust", "-E", "UTF8"], **run)
    options = f"-h 127.0.0.1 -p {port} -k {data}"
    subprocess.run([pg_ctl, "-D", str(data / "db"), "-l", str(data / "log"), "-o", options, "-w", "start"], **run)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", str(data / "db"), "-m", "immediate", "-w", "stop"], **run)
        shutil.rmtree(data, ignore_errors=True)


def test_two_processes_share_one_study_without_duplicated_trials(sample, postgres_url, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"low": 0.001, "high": 0.01, "log": True}, "hidden": {"choices": [8, 16]}}))
    command = [sys.executable, "-m", "tagger.cli.main", "tune", "--train", str(sample / "train.tsv")]
    command += ["--dev", str(sample / "dev.tsv"), "--epochs", "1", *TINY, "--space", str(space), "--no-progress"]
    command += ["--storage", postgres_url, "--study-name", "shared", "--trials", "4"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [*command, "--output", str(tmp_path / name)], stderr=subprocess.PIPE, text=True, env=environment
        )
        for name in ("one", "two")
    ]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    study = optuna.load_study(study_name="shared", storage=postgres_url.replace("postgresql:", "postgresql+psycopg2:"))
    numbers = [trial.number for trial in study.trials]
    assert sorted(numbers) == list(range(len(numbers))) and 4 <= len(numbers) <= 5  # one each may run past the budget
    assert {trial.state for trial in study.trials} == {optuna.trial.TrialState.COMPLETE}
    ran = {name: {int(p.name) for p in (tmp_path / name / "trials").iterdir()} for name in ("one", "two")}
    assert ran["one"] and ran["two"] and not ran["one"] & ran["two"] and ran["one"] | ran["two"] == set(numbers)
    for trial in study.trials:
        name = "one" if trial.number in ran["one"] else "two"
        folder = tmp_path / name / "trials" / f"{trial.number:04d}"
        assert trial.user_attrs["folder"] == f"{socket.gethostname()}:{folder.resolve()}"
    assert len({(t.params["lr"], t.params["hidden"]) for t in study.trials}) == len(numbers)  # each its own draw


def test_a_missing_server_is_one_clear_error(sample, tmp_path, capsys):
    from tagger.cli.main import main

    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/postgres"  # nothing listens there
    splits = ["--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv")]
    assert main(["tune", *splits, "--output", str(tmp_path / "out"), "--storage", url, "--no-progress"]) == 2
    assert f"cannot open study 'tagger' in {url}: (psycopg2.OperationalError)" in capsys.readouterr().err
