"""`grade-all` on a synthetic class: parallel grading, gradebook, skipping, kill and resume."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.classroom.classroom import files_hash
from autograder.grading.policy import load_policy
from conftest import ROOT, SOLUTIONS
from synthetic_class import HANG_LIMIT_S, MODULE, build_class, class_policy, reference_code_lines

STUDENT_COUNT = 9


def grade_all_command(policy: Path, submissions: Path, results: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "autograder",
        "--policy",
        str(policy),
        "grade-all",
        str(submissions),
        "--out",
        str(results),
        "--only",
        MODULE,
        "--device",
        "cpu",
        *extra,
    ]


def grade_all(policy, submissions, results, *extra, jobs=2):
    return subprocess.run(
        grade_all_command(policy, submissions, results, "--jobs", str(jobs), *extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_gradebook(results: Path) -> list[dict]:
    with open(results / "grades.csv", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def report_of(results: Path, student: str) -> dict:
    return json.loads((results / student / "report.json").read_text(encoding="utf-8"))


def statuses(results: Path, student: str) -> dict[str, str]:
    return {e["id"].split(".")[1]: e["status"] for e in report_of(results, student)["exercises"]}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    submissions, policy, results = build_class(folder / "submissions"), class_policy(folder), folder / "results"
    started = time.monotonic()
    result = grade_all(policy, submissions, results)
    return dict(
        folder=folder,
        submissions=submissions,
        policy=policy,
        results=results,
        run=result,
        seconds=time.monotonic() - started,
    )


def test_the_whole_class_is_graded_with_progress_shown(graded_class):
    run, results = graded_class["run"], graded_class["results"]
    assert run.returncode == 0, run.stderr
    students = sorted(p.name for p in graded_class["submissions"].iterdir())
    assert len(students) == STUDENT_COUNT
    for student in students:
        assert {"report.json", "report.md", "report.html", "grading.log"} <= {
            p.name for p in (results / student).iterdir()
        }
    assert f"[{STUDENT_COUNT}/{STUDENT_COUNT}]" in run.stderr and "ETA" in run.stderr and "running" in run.stderr
    assert f"graded {STUDENT_COUNT}, unchanged 0, failed 0" in run.stdout
    assert (
        "identical submissions: reference, Zoë Ångström (copy of reference)" in run.stdout
        or "identical submissions: Zoë Ångström (copy of reference), reference" in run.stdout
    )
    assert not list(results.rglob("*.tmp")) and not (results / ".work").exists()


def test_each_kind_of_student_gets_its_own_result(graded_class):
    results = graded_class["results"]
    top = sum(load_policy(graded_class["policy"]).modules[MODULE].points.values())
    assert report_of(results, "reference")["score"] == report_of(results, "reference")["max_score"] == top
    assert report_of(results, "Zoë Ångström (copy of reference)")["score"] == top
    assert set(statuses(results, "stubs").values()) == {"failed"}
    assert report_of(results, "stubs")["score"] == 0
    partial = statuses(results, "partial")
    assert partial["sigmoid"] == partial["rnn_step"] == "failed" and partial["rnncell_forward"] == "passed"
    broken = report_of(results, "broken import")
    assert broken["score"] == 0 and "half-finished file" in broken["exercises"][0]["feedback"]
    hangs = statuses(results, "hangs")
    assert hangs.pop("many_to_many_loss") == "timeout" and set(hangs.values()) == {"passed"}
    assert f"{HANG_LIMIT_S}" in report_of(results, "hangs")["exercises"][7]["feedback"]
    accents = report_of(results, "José da Conceição")
    assert accents["score"] == top - 2  # many_to_one_loss
    assert {m["key"] for e in accents["exercises"] for m in e["messages"]} >= {"diag_loss_first_step"}
    for student in ("missing module", "in a sub-folder"):
        assert set(statuses(results, student).values()) == {"missing"}


def test_the_gradebook_matches_the_individual_reports(graded_class):
    results = graded_class["results"]
    rows = read_gradebook(results)
    assert [row["student"] for row in rows] == sorted(p.name for p in graded_class["submissions"].iterdir())
    columns = list(rows[0])
    assert columns[0] == "student" and columns[-2:] == [MODULE, "total"]
    for row in rows:
        report = report_of(results, row["student"])
        expected = {e["id"]: e["score"] for e in report["exercises"]}
        expected |= {MODULE: report["modules"][MODULE]["score"], "total": report["score"]}
        pending = {p["id"] for p in report["pending"]}  # written answers: graded by hand
        assert pending and set(columns[1:]) == set(expected) | pending
        assert {column: float(row[column]) for column in columns[1:] if column not in pending} == expected
        assert {row[column] for column in pending} == {"pending"}


def test_no_report_shows_the_hidden_seed_or_reference_code(graded_class):
    seed, code = str(load_policy(graded_class["policy"]).hidden_seed), reference_code_lines()
    reports = list(graded_class["results"].glob("*/report.*"))
    assert len(reports) == 3 * STUDENT_COUNT and len(code) >= 8
    for report in reports:
        text = report.read_text(encoding="utf-8")
        assert seed not in text and not [line for line in code if line in text], report


def test_unchanged_students_are_skipped_and_a_changed_one_is_graded_again(graded_class, tmp_path):
    submissions, results = tmp_path / "submissions", tmp_path / "results"
    shutil.copytree(graded_class["submissions"], submissions)
    shutil.copytree(graded_class["results"], results)
    before = {p: p.stat().st_mtime_ns for p in results.glob("*/report.*")}
    rerun = grade_all(graded_class["policy"], submissions, results)
    assert rerun.returncode == 0 and f"graded 0, unchanged {STUDENT_COUNT}" in rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in results.glob("*/report.*")} == before
    assert (results / "grades.csv").read_text() == (graded_class["results"] / "grades.csv").read_text()

    shutil.copy(SOLUTIONS / f"{MODULE}.py", submissions / "partial" / f"{MODULE}.py")  # the student fixed it
    again = grade_all(graded_class["policy"], submissions, results)
    assert again.returncode == 0 and f"graded 1, unchanged {STUDENT_COUNT - 1}" in again.stdout
    changed = {p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime}
    assert changed == {p for p in before if p.parent.name == "partial"}
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["students"]["partial"]["files"] == files_hash(submissions / "partial")
    top = sum(load_policy(graded_class["policy"]).modules[MODULE].points.values())
    assert {row["student"]: row["total"] for row in read_gradebook(results)}["partial"] == f"{top:g}"


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def kill_after_reports(command: list[str], results: Path, reports: int) -> int:
    """Start grade-all, kill -9 its whole process group once `reports` students have a report;
    returns how many had one then."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while len(list(results.glob("*/report.json"))) < reports and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return len(list(results.glob("*/report.json")))


def test_a_run_killed_halfway_resumes_to_the_same_gradebook(graded_class, tmp_path):
    results = tmp_path / "results"
    command = grade_all_command(graded_class["policy"], graded_class["submissions"], results, "--jobs", "2")
    graded_before_kill = kill_after_reports(command, results, 2)
    assert 2 <= graded_before_kill < STUDENT_COUNT
    for report in results.glob("*/report.json"):
        json.loads(report.read_text(encoding="utf-8"))  # complete files only
    time.sleep(1)
    assert _processes_mentioning(str(results)) == []  # the workers died with their parent

    resumed = grade_all(graded_class["policy"], graded_class["submissions"], results)
    assert resumed.returncode == 0, resumed.stderr
    unchanged = int(resumed.stdout.split("unchanged ")[1].split(",")[0])
    assert unchanged >= graded_before_kill - 1  # at most the one killed between report and manifest
    assert (results / "grades.csv").read_bytes() == (graded_class["results"] / "grades.csv").read_bytes()


def test_a_student_past_the_wall_time_cap_fails_without_a_report(tmp_path):
    submissions = tmp_path / "submissions"
    shutil.copytree(SOLUTIONS, submissions / "slow", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        grade_all_command(ROOT / "grading.toml", submissions, tmp_path / "results", "--timeout", "0.5"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "failed 1" in result.stdout
    assert not (tmp_path / "results" / "slow" / "report.json").exists()
    manifest = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert manifest["students"]["slow"]["status"] == "failed"
    assert "stopped after 0.5 s" in manifest["students"]["slow"]["detail"]
    [row] = read_gradebook(tmp_path / "results")
    assert row.pop("student") == "slow" and set(row.values()) == {""} and "total" in row


def test_a_worker_stopped_before_it_opened_its_log_is_a_failed_student_not_a_crash(tmp_path):
    from autograder.classroom import worker
    from autograder.classroom.class_results import Student

    class Stopped:  # what a Worker leaves when the cap kills it before its first line
        student, workdir, started = Student("ana", tmp_path, "hash"), tmp_path, time.monotonic()

        def exit_code(self):
            return -signal.SIGKILL

    outcome = worker.worker_outcome(Stopped(), timed_out=True, cap=0.5)
    assert (outcome.log, outcome.report, outcome.detail) == ("", None, "stopped after 0.5 s")


def test_a_second_run_on_the_same_results_is_refused(tmp_path):
    (tmp_path / "submissions").mkdir()
    (tmp_path / "results").mkdir()
    with open(tmp_path / "results" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            grade_all_command(ROOT / "grading.toml", tmp_path / "submissions", tmp_path / "results"),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    assert result.returncode == 2 and "another grade-all" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_content_hash_covers_names_and_bytes_but_not_caches(tmp_path):
    folder = tmp_path / "ana"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "rnn_basics.py").write_text("x = 1\n")
    first = files_hash(folder)
    (folder / "__pycache__" / "rnn_basics.cpython-311.pyc").write_bytes(b"\0")
    assert files_hash(folder) == first
    (folder / "rnn_basics.py").rename(folder / "helper.py")
    assert files_hash(folder) != first
    (folder / "helper.py").rename(folder / "rnn_basics.py")
    (folder / "rnn_basics.py").write_text("x = 2\n")
    assert files_hash(folder) not in (first, files_hash(tmp_path))


def test_the_nbgrader_layout_grades_each_students_assignment_folder(tmp_path):
    from autograder.classroom.classroom import find_students

    (tmp_path / "ana" / "ps1").mkdir(parents=True)
    (tmp_path / "ana" / "ps1" / "rnn_basics.py").write_text("x = 1\n")
    (tmp_path / "bruno" / "ps2").mkdir(parents=True)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / "results").mkdir()  # results kept inside the submissions folder
    students = find_students(tmp_path, "ps1", tmp_path / "results")
    assert [(s.name, s.folder) for s in students] == [
        ("ana", tmp_path / "ana" / "ps1"),
        ("bruno", tmp_path / "bruno" / "ps1"),
    ]
    assert students[0].files_hash == files_hash(tmp_path / "ana" / "ps1") and students[1].files_hash == "missing"


def test_without_a_fork_server_each_student_gets_a_fresh_interpreter(tmp_path, monkeypatch):
    from autograder.classroom import classroom, worker

    monkeypatch.setattr(worker, "fork_server", lambda: None)
    submissions = tmp_path / "submissions"
    shutil.copytree(SOLUTIONS, submissions / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "assignments", submissions / "stubs", ignore=shutil.ignore_patterns("__pycache__"))
    summary = classroom.grade_all(
        submissions, tmp_path / "results", policy_path=ROOT / "grading.toml", only=MODULE, jobs=2, show_progress=False
    )
    assert sorted(summary.graded) == ["reference", "stubs"] and not summary.failed
    reference, stubs = report_of(tmp_path / "results", "reference"), report_of(tmp_path / "results", "stubs")
    assert reference["score"] == reference["max_score"] > 0 and stubs["score"] == 0
    assert "Total" in (tmp_path / "results" / "reference" / "grading.log").read_text(encoding="utf-8")
