"""`grade-all --cluster local:N` / `--scheduler ADDRESS`: the class graded on a Dask cluster gives
the local run's gradebook, survives a killed worker and a killed coordinator, refuses foreign
workers; without those options Dask is never imported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.classroom.class_results import read_report
from autograder.grading.policy import SandboxPolicy, load_policy
from conftest import ROOT, SOLUTIONS, submission
from synthetic_class import MODULE, build_class, class_policy
from test_grade_all import grade_all, grade_all_command, kill_after_reports, read_gradebook

distributed = pytest.importorskip("distributed")  # the [cluster] extra (pinned in requirements.lock)

from autograder.classroom import cluster, cluster_task  # noqa: E402  (after the skip)

EXITS_AT_IMPORT = "import os\nos._exit(3)\n"
CLASS_SIZE = 10


def dask_class(folder: Path) -> Path:
    """tests/synthetic_class.py's nine students and one whose module calls os._exit at import."""
    submissions = build_class(folder)
    submission(submissions / "exits at import", MODULE, replace=EXITS_AT_IMPORT)
    return submissions


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The class graded by the local fork server: the gradebook every cluster run must match."""
    folder = tmp_path_factory.mktemp("dask-class")
    submissions, policy = dask_class(folder / "submissions"), class_policy(folder)
    run = grade_all(policy, submissions, folder / "local")
    assert run.returncode == 0, run.stderr
    return dict(submissions=submissions, policy=policy, results=folder / "local")


@pytest.fixture(scope="module")
def shared_cluster():
    """A LocalCluster of two worker processes that the tests reach with --scheduler (started once)."""
    local = cluster.start_local_cluster(2)
    yield local
    local.close()


def manifest_of(results: Path) -> dict:
    return read_report(results / "manifest.json")["students"]


def test_grade_all_without_a_cluster_never_imports_dask(tmp_path):
    (tmp_path / "class").mkdir()
    code = (
        "import sys; from autograder.cli import main; "
        f"code = main(['grade-all', {str(tmp_path / 'class')!r}, '--out', {str(tmp_path / 'out')!r}, "
        "'--device', 'cpu']); "
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from autograder.cli import main

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    (tmp_path / "class").mkdir()
    code = main(
        ["grade-all", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error: --scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler")
    assert error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_a_worker_with_another_kit_or_policy_is_refused(tmp_path, monkeypatch):
    from autograder.grading.policy import load_policy

    policy = load_policy(class_policy(tmp_path))
    with (
        distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local,
        distributed.Client(local) as client,
    ):
        executor = cluster.DaskExecutor(client, None, policy)
        executor.check_workers(unconfined=True)  # the same kit: accepted
        executor.kit = {**executor.kit, "grader": "0" * 64}
        with pytest.raises(cluster.ClassroomError, match="grader files differ from the coordinator's"):
            executor.check_workers(unconfined=True)
        executor.kit = {**executor.kit, "version": "0.0.1"}
        with pytest.raises(cluster.ClassroomError, match=r"runs kit 0\.1\.0, the coordinator 0\.0\.1"):
            executor.check_workers(unconfined=True)
    monkeypatch.setenv(cluster_task.PINNED_POLICY, str(ROOT / "grading.toml"))  # a worker kept for another policy
    with pytest.raises(cluster_task.WorkerRefused, match="is not the coordinator's"):
        cluster_task.grade_task({"kit": cluster_task.local_kit(policy.path.read_bytes())})


def test_a_worker_that_cannot_confine_is_refused_unless_unconfined(tmp_path, monkeypatch):
    from autograder.grading.policy import load_policy
    from autograder.sandbox import sandbox

    monkeypatch.setattr(sandbox.isolation, "unavailable_reason", lambda: "simulated platform")
    with (
        distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local,
        distributed.Client(local) as client,
    ):
        executor = cluster.DaskExecutor(client, None, load_policy(class_policy(tmp_path)))
        with pytest.raises(cluster.ClassroomError, match=r"worker refused: .*simulated platform"):
            executor.check_workers(unconfined=False)
        executor.check_workers(unconfined=True)  # the reports then say it ran unconfined


def test_a_task_carries_the_files_grading_sees(tmp_path):
    folder = submission(tmp_path / "ana", MODULE)
    (folder / "helper.py").write_text("x = 1\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    (folder / "bptt.py").symlink_to("/etc/passwd")
    (folder / "forecast.py").mkdir()
    (folder / "pixel_gru").mkdir()
    (folder / "pixel_gru" / "pixel_gru.ipynb").write_bytes(b"{}")
    with open(folder / "big.py", "wb") as big:
        big.truncate(3 << 20)  # over max_file_kb
    copy = tmp_path / "copy" / "ana"
    cluster_task.unpack_files(cluster_task.pack_files(folder, SandboxPolicy()), copy)
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == [
        "big.py",
        "bptt.py",
        "forecast.py",
        "helper.py",
        "pixel_gru",
        "pixel_gru/pixel_gru.ipynb",
        f"{MODULE}.py",
    ]
    assert (copy / f"{MODULE}.py").read_bytes() == (SOLUTIONS / f"{MODULE}.py").read_bytes() + b"\n"
    assert (copy / "bptt.py").is_symlink() and (copy / "forecast.py").is_dir()
    assert (copy / "big.py").stat().st_size == 3 << 20  # its size travels, not its bytes
    assert cluster_task.pack_files(tmp_path / "nobody", SandboxPolicy()) is None
    (folder / "data.txt").write_bytes(b"x" * (50 << 10))
    with pytest.raises(cluster_task.TaskTooLarge, match="more than a task carries"):
        cluster_task.pack_files(folder, SandboxPolicy(max_submission_kb=1, max_notebook_kb=1, max_file_kb=100))
    with pytest.raises(ValueError, match="not a path inside the submission"):
        cluster_task.unpack_files([{"path": "../evil.py", "kind": "file", "data": b""}], tmp_path / "other")


@pytest.mark.slow
def test_a_dask_class_gives_the_local_gradebook(local_run, tmp_path):
    results = tmp_path / "results"
    run = grade_all(local_run["policy"], local_run["submissions"], results, "--cluster", "local:2")
    assert run.returncode == 0, run.stderr
    assert f"graded {CLASS_SIZE}, unchanged 0, failed 0" in run.stdout and f"[{CLASS_SIZE}/{CLASS_SIZE}]" in run.stderr
    assert (results / "grades.csv").read_bytes() == (local_run["results"] / "grades.csv").read_bytes()
    for student in manifest_of(results):
        for name in ("report.json", "report.md"):
            assert (results / student / name).read_bytes() == (local_run["results"] / student / name).read_bytes()
    assert len({entry["worker"] for entry in manifest_of(results).values()}) == 2  # both workers graded
    exits = read_report(results / "exits at import" / "report.json")
    assert exits["score"] == 0 and exits["sandbox"]["confined"] is True
    assert (results / "class.md").is_file() and not (results / ".work").exists()


SLOW_IMPORT = "import time\ntime.sleep(2)\n"  # keeps each student on its worker for seconds


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_retried_and_every_student_graded(shared_cluster, tmp_path):
    submissions = tmp_path / "submissions"
    for number in range(5):
        submission(submissions / f"student{number}", MODULE, append=f"# {number}\n{SLOW_IMPORT}")
    results = tmp_path / "results"
    with distributed.Client(shared_cluster) as client:
        command = grade_all_command(
            ROOT / "grading.toml", submissions, results, "--scheduler", shared_cluster.scheduler_address
        )
        coordinator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not list(results.glob("*/report.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        busy = {address: keys for address, keys in client.processing().items() if keys}
        victim, lost = next(iter(busy.items()))
        os.kill(client.run(os.getpid)[victim], signal.SIGKILL)
        stdout, stderr = coordinator.communicate(timeout=300)
    assert coordinator.returncode == 0, stderr
    assert "graded 5, unchanged 0, failed 0" in stdout
    manifest = manifest_of(results)
    assert {entry["status"] for entry in manifest.values()} == {"graded"}
    total = sum(load_policy(ROOT / "grading.toml").modules[MODULE].points.values())
    assert {entry["score"] for entry in manifest.values()} == {total}
    lost_students = [name for name in manifest if any(key.startswith(f"grade-{name}-") for key in lost)]
    assert lost_students and all(manifest[name]["worker"] != victim for name in lost_students)
    assert [row["total"] for row in read_gradebook(results)] == [f"{total:g}"] * 5


@pytest.mark.slow
def test_a_killed_coordinator_resumes_grading_only_what_was_missing(local_run, shared_cluster, tmp_path):
    results, scheduler = tmp_path / "results", ("--scheduler", shared_cluster.scheduler_address)
    command = grade_all_command(local_run["policy"], local_run["submissions"], results, *scheduler)
    graded_before_kill = kill_after_reports(command, results, 3)
    assert 3 <= graded_before_kill < CLASS_SIZE
    resumed = grade_all(local_run["policy"], local_run["submissions"], results, *scheduler)
    assert resumed.returncode == 0, resumed.stderr
    graded = int(resumed.stdout.split("graded ")[1].split(",")[0])
    unchanged = int(resumed.stdout.split("unchanged ")[1].split(",")[0])
    assert graded + unchanged == CLASS_SIZE and unchanged >= graded_before_kill - 1
    assert (results / "grades.csv").read_bytes() == (local_run["results"] / "grades.csv").read_bytes()
