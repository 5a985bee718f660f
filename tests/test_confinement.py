"""Student code runs confined: no repository, no network, no surviving processes, fixed limits."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.exercises import cases
from conftest import ROOT, grade, graded_probe, needs_namespaces, submission

MODULE = "rnn_basics"
pytestmark = pytest.mark.usefixtures("zygote_start")  # every property, on both ways of starting the child


def probe(tmp_path, body: str):
    """rnn_step's scored exercise after `body` ran in it (see conftest.graded_probe)."""
    return graded_probe(tmp_path / "sub", body)["rnn_step"]


@needs_namespaces
def test_the_reference_solutions_cannot_be_found_from_student_code(tmp_path):
    assert (ROOT / "solutions" / f"{MODULE}.py").is_file()
    code = (
        (ROOT / "assignments" / f"{MODULE}.py").read_text()
        + f"""
import os as _os
def _steal():
    for top in ("/", {str(ROOT)!r}, {str(ROOT.parent)!r}):
        for folder, folders, files in _os.walk(top):
            folders[:] = [f for f in folders if f not in ("proc", "sys", "dev", "usr", ".venv", ".pyenv")]
            if "rnn_basics.py" in files and folder.endswith("solutions"):
                return _os.path.join(folder, "rnn_basics.py")
_stolen = _steal()
if _stolen:
    exec(open(_stolen).read())
"""
    )
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=code), only=MODULE)
    assert {e.score for e in scores.values()} == {0}
    assert {e.messages[0].key for e in scores.values()} == {"not_implemented"}


@needs_namespaces
@pytest.mark.parametrize("path", [ROOT / "grading.toml", ROOT / "solutions", ROOT / "autograder" / "checks"])
def test_repository_paths_do_not_exist_for_the_child(tmp_path, path):
    exercise = probe(
        tmp_path,
        f"""
            import os
            if os.path.exists({str(path)!r}):
                raise RuntimeError("visible")
    """,
    )
    assert exercise.status == "passed", exercise.messages


@needs_namespaces
def test_no_network(tmp_path):
    exercise = probe(
        tmp_path,
        """
            import socket
            socket.create_connection(("127.0.0.1", 22), timeout=3)
    """,
    )
    assert exercise.status == "error"
    assert exercise.messages[0].params["exc_type"] in ("OSError", "ConnectionRefusedError")
    assert "unreachable" in exercise.messages[0].params["message"]


@needs_namespaces
def test_limits_cannot_be_raised(tmp_path):
    exercise = probe(
        tmp_path,
        """
            import resource
            resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    """,
    )
    assert exercise.status == "error" and exercise.messages[0].params["exc_type"] == "ValueError"


@needs_namespaces
def test_background_processes_do_not_survive(tmp_path):
    marker = f"{uuid.uuid4().int % 10**9}"
    exercise = probe(
        tmp_path,
        f"""
            import subprocess
            subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
            subprocess.Popen(["sh", "-c", "nohup sleep {marker} &"], start_new_session=True)
    """,
    )
    assert exercise.status == "passed"
    survivors = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    assert survivors.stdout == ""


@needs_namespaces
def test_the_cache_of_hidden_cases_is_shown_empty_even_inside_a_visible_folder(tmp_path, monkeypatch):
    cache = Path(sys.prefix) / f"grader-cache-test-{uuid.uuid4().hex[:8]}"  # the environment is visible
    monkeypatch.setenv("AUTOGRADER_CACHE", str(cache))
    cases._hidden_cases.cache_clear()
    try:
        cases.cases_for(MODULE, "rnn_step", hidden_seed=1, hidden_cases=1)
        assert any(cache.iterdir())
        exercise = probe(
            tmp_path,
            f"""
            import os
            seen = os.listdir({str(cache)!r}) if os.path.isdir({str(cache)!r}) else []
            found = np.zeros(1) if seen else None
    """,
        )
        assert exercise.status == "passed"
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        cases._hidden_cases.cache_clear()


@needs_namespaces
def test_killing_the_grader_mid_exercise_leaves_no_student_process(tmp_path):
    """A grader killed with SIGKILL (no cleanup runs) takes the student's spinning child with it."""
    marker = f"{uuid.uuid4().int % 10**9}"
    folder = submission(
        tmp_path / "sub",
        MODULE,
        append=f"""
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            import subprocess
            subprocess.Popen(["sleep", "{marker}"])
            while True:
                pass
    """,
    )
    grader = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(folder), "--only", MODULE, "--device", "cpu"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not _running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _running(f"sleep {marker}"), "the student's code never started"
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    deadline = time.monotonic() + 10
    while _running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(f"sleep {marker}")


def _running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_without_namespaces_hidden_grading_is_refused_unless_allowed(tmp_path, monkeypatch, capfd):
    from autograder.cli import main
    from autograder.grading.runner import UnconfinedRefused
    from autograder.sandbox import sandbox

    monkeypatch.setattr(sandbox.isolation, "unavailable_reason", lambda: "simulated platform")
    folder = submission(tmp_path / "sub", MODULE)
    with pytest.raises(UnconfinedRefused, match="--unconfined"):
        grade(folder, only=MODULE)
    assert main(["grade", str(folder), "--only", MODULE, "--device", "cpu"]) == 2
    assert "simulated platform" in capfd.readouterr().err


def test_allowed_unconfined_the_grader_warns_once_still_limits_and_records_it(tmp_path, monkeypatch, capfd):
    from autograder.grading import runner
    from autograder.sandbox import sandbox

    monkeypatch.setattr(sandbox.isolation, "unavailable_reason", lambda: "simulated platform")
    runner._warn_once.cache_clear()
    code = """
        import resource as _resource
        _reference_step = rnn_step
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            assert _resource.getrlimit(_resource.RLIMIT_DATA)[0] > 0
            return _reference_step(x, h_prev, W_xh, W_hh, b_h)
    """
    _, report = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE, unconfined=True)
    assert report.score == report.max_score
    assert report.to_json("en")["sandbox"] == {"confined": False, "reason": "simulated platform", "cgroups": False}
    warnings = [line for line in capfd.readouterr().err.splitlines() if "simulated platform" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")


def test_students_check_runs_unconfined_without_the_flag(tmp_path, monkeypatch):
    from autograder.sandbox import sandbox

    monkeypatch.setattr(sandbox.isolation, "unavailable_reason", lambda: "simulated platform")
    _, report = grade(submission(tmp_path / "sub", MODULE), only=MODULE, hidden=False)
    assert report.score == report.max_score and report.sandbox["confined"] is False


@needs_namespaces
def test_a_confined_report_says_so(tmp_path):
    _, report = grade(submission(tmp_path / "sub", MODULE), only=MODULE)
    assert report.to_json("en")["sandbox"]["confined"] is True


@needs_namespaces
def test_the_datasets_raw_files_are_hidden_from_student_code(tmp_path):
    from autograder.exercises.datasets import source_paths

    paths = [str(path) for path in source_paths()]
    assert len(paths) == 3
    exercise = probe(
        tmp_path,
        f"""
            import os
            for path in {paths!r}:
                if os.path.isdir(path) and os.listdir(path):
                    raise RuntimeError("visible: " + path)
                if os.path.isfile(path) and os.path.getsize(path):
                    raise RuntimeError("visible: " + path)
            try:
                from faker import Faker
                Faker("de_DE").last_name()
            except (ImportError, AttributeError, ModuleNotFoundError):
                pass
            else:
                raise RuntimeError("Faker's names are reachable")
    """,
    )
    assert exercise.status == "passed", exercise.messages


def test_grade_all_and_gradescope_refuse_unconfined_hidden_grading_too(tmp_path, monkeypatch):
    from autograder.classroom import gradescope
    from autograder.classroom.classroom import grade_all
    from autograder.grading.runner import UnconfinedRefused
    from autograder.sandbox import sandbox

    monkeypatch.setattr(sandbox.isolation, "unavailable_reason", lambda: "simulated platform")
    submission(tmp_path / "class" / "ana", MODULE)
    with pytest.raises(UnconfinedRefused):
        grade_all(tmp_path / "class", tmp_path / "results", policy_path=ROOT / "grading.toml", only=MODULE)
    submission(tmp_path / "gradescope" / "submission", MODULE)
    results = gradescope.run_autograder(tmp_path / "gradescope", ROOT / "grading.toml", only=MODULE)
    assert results["score"] == 0 and "--unconfined" in results["output"]
    assert "--unconfined" in gradescope.zip_members(ROOT / "grading.toml", unconfined=True)["run_autograder"].decode()
    assert "--unconfined" not in gradescope.zip_members(ROOT / "grading.toml")["run_autograder"].decode()


@needs_namespaces
def test_without_cgroups_the_grader_says_so_once_and_grades_with_the_rlimits(tmp_path, monkeypatch, capfd):
    from autograder.grading import runner
    from autograder.sandbox import cgroups

    monkeypatch.setattr(cgroups, "layout_or_reason", lambda: "simulated: no cgroups")
    runner._warn_once.cache_clear()
    _, report = grade(submission(tmp_path / "sub", MODULE), only=MODULE)
    _, again = grade(submission(tmp_path / "sub2", MODULE), only=MODULE)
    assert report.score == report.max_score == again.score
    assert report.sandbox == {"confined": True, "reason": None, "cgroups": False}
    warnings = [line for line in capfd.readouterr().err.splitlines() if "simulated: no cgroups" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
