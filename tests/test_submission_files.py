"""Stage 2 reads regular files only, within the policy's size caps: anything else is that
module's clear error (or a helper left out), never a crash, a hang or a file read elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest

from autograder.grading.policy import load_policy
from autograder.grading.submission import load_submission
from conftest import POLICY, ROOT, SOLUTIONS, grade

MODULE = "rnn_basics"
CAPS = load_policy(POLICY).sandbox


def first_messages(scores) -> set:
    return {(e.status, e.messages[0].key) for e in scores.values()}


def test_a_symlinked_module_is_not_followed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"{MODULE}.py").symlink_to(SOLUTIONS / f"{MODULE}.py")
    scores, report = grade(tmp_path / "sub", only=MODULE)
    assert report.score == 0
    assert first_messages(scores) == {("error", "file_not_regular")}
    assert scores[f"{MODULE}.sigmoid"].messages[0].params == {"file": f"{MODULE}.py", "kind": "a symbolic link"}


def test_a_fifo_module_is_refused_without_waiting_for_a_writer(tmp_path):
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "sub" / f"{MODULE}.py")
    scores, _ = grade(tmp_path / "sub", only=MODULE)
    assert first_messages(scores) == {("error", "file_not_regular")}


def test_a_module_over_the_size_cap_is_refused(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    text = (SOLUTIONS / f"{MODULE}.py").read_text()
    (folder / f"{MODULE}.py").write_text(text + "\n# " + "x" * (50 << 20) + "\n")  # 50 MB
    scores, _ = grade(folder, only=MODULE)
    assert first_messages(scores) == {("error", "file_too_large")}
    assert scores[f"{MODULE}.sigmoid"].messages[0].params["limit_kb"] == CAPS.max_file_kb


def test_linked_and_special_helpers_are_left_out_and_the_module_is_graded(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copy(SOLUTIONS / f"{MODULE}.py", folder)
    (folder / "seed.py").symlink_to(ROOT / "grading.toml")
    (folder / "x.py").symlink_to("/dev/zero")
    (folder / "pkg.py").mkdir()
    (folder / "helper.py").write_text("VALUE = 1\n")
    submission = load_submission(folder, [MODULE], tmp_path / "staging", CAPS)
    assert set(submission.helpers) == {"helper.py"}
    assert submission.ignored == {
        "seed.py": "file_not_regular",
        "x.py": "file_not_regular",
        "pkg.py": "file_not_regular",
    }
    _, report = grade(folder, only=MODULE)
    assert report.score == report.max_score


def test_a_helper_that_is_a_link_cannot_be_imported(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text((SOLUTIONS / f"{MODULE}.py").read_text() + "\nimport seed\n")
    (folder / "seed.py").symlink_to(ROOT / "grading.toml")
    scores, _ = grade(folder, only=MODULE)
    message = scores[f"{MODULE}.sigmoid"].messages[0]
    assert (message.key, message.params["exc_type"]) == ("raised", "ModuleNotFoundError")


def test_a_submission_over_its_total_cap_is_refused(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copy(SOLUTIONS / f"{MODULE}.py", folder)
    helper = "# " + "y" * ((CAPS.max_file_kb << 10) - 64) + "\n"
    for number in range(CAPS.max_submission_kb // CAPS.max_file_kb + 1):
        (folder / f"helper{number}.py").write_text(helper)
    scores, _ = grade(folder, only=MODULE)
    assert first_messages(scores) == {("error", "submission_too_large")}


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_notebooks_are_read_as_regular_files_only(tmp_path, kind):
    folder = tmp_path / "sub"
    folder.mkdir()
    target = folder / f"{MODULE}.ipynb"
    if kind == "symlink":
        target.symlink_to(ROOT / "source" / MODULE / f"{MODULE}.ipynb")
    else:
        target.mkdir()
    scores, _ = grade(folder, only=MODULE)
    assert first_messages(scores) == {("error", "file_not_regular")}
