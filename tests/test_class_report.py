"""The class report: statistics that match grades.csv, mistakes ranked, students flagged, copies found."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import statistics
import subprocess
import sys

import numpy as np
import pytest

from autograder.classroom.class_report import plots, write_class_report
from autograder.classroom.class_report.similarity import compare_module
from autograder.classroom.class_report.stats import SHORTCUT_KEYS
from autograder.classroom.gradebook import write_gradebook
from autograder.grading.policy import load_policy
from autograder.messages import Message
from conftest import ASSIGNMENTS, POLICY, ROOT, SOLUTIONS
from copied_code import ANA, BRUNO_RENAMES, CARLA, near_copy
from insight_class import COPIED, FITTED, INDEPENDENT, MODULE, PLANTED, STUBS, build_insight_class, mistake_key
from synthetic_class import class_policy

SETTINGS = load_policy(POLICY).similarity
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- reading the Markdown back -----------------------------------------------------------------
def md_table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells without ** or escapes) of the first table after the heading `heading`."""
    section = markdown.split(f"## {heading}\n", 1)[1]
    lines = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")][2:]
    return [
        [cell.strip().strip("*").replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines
    ]


def read_gradebook(results) -> list[dict]:
    with open(results / "grades.csv", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


# -- the synthetic class, graded -----------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("insight")
    submissions, policy, results = build_insight_class(folder / "submissions"), class_policy(folder), folder / "results"
    run = subprocess.run(
        [
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
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return dict(
        folder=folder,
        policy=policy,
        results=results,
        run=run,
        markdown=(results / "class.md").read_text(encoding="utf-8"),
        html=(results / "class.html").read_text(encoding="utf-8"),
    )


@pytest.mark.slow
def test_grade_all_writes_the_class_report_for_32_students(graded):
    assert f"class report: {graded['results'] / 'class.md'}, {graded['results'] / 'class.html'}" in graded["run"].stdout
    assert "32 alunos corrigidos de 32; 0 sem nota" in graded["markdown"]
    answers = graded["results"] / "ana" / "answers" / f"{MODULE}.py"
    assert ANA.strip() in answers.read_text(encoding="utf-8")  # kept for class-report


def diagnosis_text(results, exercise_id: str, key: str) -> str:
    """The diagnosis as a student's report.json records it (with its parameters), rendered in pt."""
    for path in sorted(results.glob("*/report.json")):
        for e in json.loads(path.read_text(encoding="utf-8"))["exercises"]:
            for message in e["messages"]:
                if e["id"] == exercise_id and message["key"] == key:
                    return Message.from_json(message).render("pt")
    raise AssertionError(f"no report has {key} on {exercise_id}")


def distribution_counts(text: str, values: list[float]) -> tuple[list[int], list[int]]:
    """(the counts the report shows, the counts of `values` in the same points or ranges)."""
    shown, expected = [], []
    for item in text.split(" · "):
        label, count = item.rsplit(": ", 1)
        shown.append(int(count))
        if label.startswith("["):
            low, high = (float(v) for v in label[1:-1].split(", "))
            expected.append(sum(low <= v < high or (label.endswith("]") and v == high) for v in values))
        else:
            expected.append(values.count(float(label)))
    return shown, expected


@pytest.mark.slow
def test_the_planted_mistakes_are_ranked_with_their_counts(graded):
    rows = md_table(graded["markdown"], "Enganos diagnosticados, do mais frequente ao menos")
    found = {(exercise, text): int(count) for exercise, text, count, _ in rows}
    positions = []
    for name, count in PLANTED.items():
        exercise, key = mistake_key(name)
        text = diagnosis_text(graded["results"], exercise, key)
        assert found.get((exercise, text)) == count, (name, exercise, text, found)
        positions.append([(r[0], r[1]) for r in rows].index((exercise, text)))
    assert positions == sorted(positions)  # 6, 5, 4, 3, 2, 1 students: in that order
    assert [int(r[2]) for r in rows] == sorted((int(r[2]) for r in rows), reverse=True)


@pytest.mark.slow
def test_exactly_the_copied_pair_is_flagged_with_its_fragments(graded):
    rows = md_table(graded["markdown"], "Código parecido demais")
    assert [(r[0], r[1]) for r in rows] == [(MODULE, f"{COPIED[0]} ↔ {COPIED[1]}")]
    assert (
        int(rows[0][4]) >= SETTINGS["min_shared_tokens"] and int(rows[0][2].rstrip(" %")) >= 100 * SETTINGS["threshold"]
    )
    section = graded["html"].split("Código parecido demais", 1)[1]
    assert "_initial_state(batch, size, given)" in section and "_start(batch, size, provided)" in section
    for innocent in (INDEPENDENT, "reference", *STUBS):
        assert innocent not in section


@pytest.mark.slow
def test_every_number_matches_grades_csv(graded):
    policy = load_policy(graded["policy"])
    gradebook = [row for row in read_gradebook(graded["results"]) if row["total"]]
    rows = md_table(graded["markdown"], "Pontos por módulo e por exercício")
    points = policy.modules[MODULE].points
    expected_names = [MODULE, *points, "total"]
    assert [r[0] for r in rows] == expected_names
    for name, maximum, mean, median, full, _, _, distribution in rows:
        column = {"total": "total", MODULE: MODULE}.get(name, f"{MODULE}.{name}")
        values = [float(row[column]) for row in gradebook]
        top = points[name] if name in points else sum(points.values())
        assert float(maximum) == top
        assert mean == f"{statistics.fmean(values):.2f}" and float(median) == statistics.median(values)
        assert full == f"{100 * sum(v >= top for v in values) / len(values):.0f} %"
        shown, expected = distribution_counts(distribution, values)
        assert shown == expected and sum(shown) == len(values)
    assert len(gradebook) == 32


@pytest.mark.slow
def test_not_attempted_and_timeouts_count_the_students_planted(graded):
    rows = md_table(graded["markdown"], "Pontos por módulo e por exercício")
    untouched, broken = len(STUBS) + 1, 1  # the stubs and "missing module"; "broken import"
    for name, *_, not_attempted, failed_runs, _ in rows[1:-1]:
        hangs = name == "many_to_many_loss"
        assert not_attempted == f"{100 * untouched / 32:.0f} %", name
        assert failed_runs == f"{100 * (broken + hangs) / 32:.0f} %", name


@pytest.mark.slow
def test_students_flagged_and_nothing_hidden_shown(graded):
    rows = md_table(graded["markdown"], "Alunos sinalizados")
    assert ["hangs", "tempo esgotado", f"{MODULE}.many_to_many_loss"] in rows
    report = json.loads((graded["results"] / FITTED / "report.json").read_text(encoding="utf-8"))
    hidden = [
        f"{m['params'][k]:.6g}"
        for e in report["exercises"]
        for m in e["messages"]
        if m["key"] == "mismatch"
        for k in ("expected", "got")
    ]
    hidden = [value for value in hidden if len(value) >= 5]
    assert hidden  # the instructor's JSON has hidden values
    seed = str(load_policy(graded["policy"]).hidden_seed)
    for text in (graded["markdown"], graded["html"]):
        assert seed not in text and not [value for value in hidden if value in text]


@pytest.mark.slow
def test_class_report_rebuilds_the_same_report_from_the_results_alone(graded, tmp_path):
    results = shutil.copytree(graded["results"], tmp_path / "results")
    (results / "class.md").unlink()
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "--policy", str(graded["policy"]), "class-report", str(results)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert (results / "class.md").read_text(encoding="utf-8") == graded["markdown"]
    english = subprocess.run(
        [sys.executable, "-m", "autograder", "class-report", str(results), "--lang", "en"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        english.returncode == 0 and "## Diagnosed mistakes, most frequent first" in (results / "class.md").read_text()
    )


def test_class_report_on_a_folder_without_results_is_one_line_and_exit_2(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "class-report", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "grades.csv" in run.stderr and run.stderr.count("\n") == 1


# -- similarity without grading ----------------------------------------------------------------
def _module_text(folder, name=MODULE) -> str:
    return (folder / f"{name}.py").read_text(encoding="utf-8")


def test_a_renamed_and_reordered_copy_is_flagged_and_an_own_variant_is_not():
    reference, stub = _module_text(SOLUTIONS), _module_text(ASSIGNMENTS)
    answers = {f"reference {n}": reference + f"\n# {n}\n" for n in range(12)}
    answers |= {
        "ana": reference + ANA,
        "bruno": reference + near_copy(ANA, BRUNO_RENAMES),
        "carla": reference + CARLA,
        "stub 1": stub,
        "stub 2": stub,
    }
    result = compare_module(MODULE, answers, stub, **SETTINGS)
    assert [(p.first, p.second) for p in result.pairs] == [("ana", "bruno")]
    assert result.pairs[0].similarity > 0.9 and result.compared == len(answers) * (len(answers) - 1) // 2


def test_the_stubs_code_is_ignored_even_in_a_class_too_small_for_common_passages():
    stub, reference = _module_text(ASSIGNMENTS), _module_text(SOLUTIONS)
    answers = {"stub 1": stub, "stub 2": stub + "\n# mine\n", "ana": reference}
    settings = {**SETTINGS, "common_above": 10}
    assert compare_module(MODULE, answers, stub, **settings).pairs == []
    flagged = compare_module(MODULE, answers, None, **settings).pairs
    assert ("stub 1", "stub 2") in [(p.first, p.second) for p in flagged]  # without the stub they look copied


def test_a_passage_most_of_the_class_writes_is_not_evidence():
    reference = _module_text(SOLUTIONS)
    answers = {f"student {n}": reference + f"\n# {n}\n" for n in range(SETTINGS["common_above"] + 1)}
    assert compare_module(MODULE, answers, None, **SETTINGS).pairs == []
    few = dict(list(answers.items())[:3])
    assert len(compare_module(MODULE, few, None, **SETTINGS).pairs) == 3


# -- a results folder written by hand: trained tasks, shortcuts, failures ------------------------
def exercise(exercise_id: str, score: float, max_score: float, status: str = "passed", *messages: dict) -> dict:
    return {
        "id": exercise_id,
        "module": exercise_id.split(".")[0],
        "score": score,
        "max_score": max_score,
        "status": status,
        "feedback": "",
        "messages": list(messages),
    }


def report_of(exercises: list[dict]) -> dict:
    modules: dict = {}
    for e in exercises:
        totals = modules.setdefault(e["module"], {"score": 0.0, "max_score": 0.0})
        totals["score"] += e["score"]
        totals["max_score"] += e["max_score"]
    return {
        "score": sum(e["score"] for e in exercises),
        "max_score": sum(e["max_score"] for e in exercises),
        "language": "pt",
        "modules": modules,
        "exercises": exercises,
    }


def practical_student(rng, number: int) -> dict:
    accuracy, ratio = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.4, 1.2))
    mistake = [{"key": "diag_missing_bias", "params": {"bias": "b_h"}}] if number % 3 == 0 else []
    shortcut = (
        [
            {
                "key": SHORTCUT_KEYS[0],
                "params": {"routine": "torch.nn.RNNCell", "name": "rnncell_forward", "where": "rnncell_forward"},
            }
        ]
        if number == 4
        else []
    )
    return report_of(
        [
            exercise(
                "rnn_basics.rnn_step",
                0 if mistake else 2,
                2,
                "failed" if mistake else "passed",
                {"key": "case_public", "params": {"number": 1}},
                *mistake,
            ),
            exercise(
                "rnn_basics.rnncell_forward", 0 if shortcut else 2, 2, "failed" if shortcut else "passed", *shortcut
            ),
            exercise(
                "name_classifier.train_name_classifier",
                round(8 * min(max((accuracy - 0.25) / 0.25, 0), 1), 4),
                8,
                "passed",
                {
                    "key": "score_accuracy",
                    "params": {
                        "value": accuracy,
                        "count": 2700,
                        "full": 0.5,
                        "zero": 0.25,
                        "seconds": round(float(rng.uniform(2, 15)), 1),
                    },
                },
            ),
            exercise(
                "forecast.train_forecaster",
                round(8 * min(max((1.0 - ratio) / 0.3, 0), 1), 4),
                8,
                "passed",
                {
                    "key": "score_mse_ratio",
                    "params": {
                        "value": ratio,
                        "count": 100,
                        "full": 0.7,
                        "zero": 1.0,
                        "seconds": round(float(rng.uniform(1, 10)), 1),
                    },
                },
            ),
        ]
    )


def write_results(folder, reports: dict, answers: dict, failures: dict):
    """grades.csv, manifest.json, <student>/report.json and answers/, as grade-all leaves them."""
    first = next(iter(reports.values()))
    columns = ["student", *(e["id"] for e in first["exercises"]), *first["modules"], "total"]
    manifest = {}
    for student, report in reports.items():
        (folder / student / "answers").mkdir(parents=True)
        (folder / student / "report.json").write_text(json.dumps(report), encoding="utf-8")
        manifest[student] = {"status": "graded"}
        for module, code in answers.get(student, {}).items():
            (folder / student / "answers" / f"{module}.py").write_text(code, encoding="utf-8")
    for student, detail in failures.items():
        manifest[student] = {"status": "failed", "detail": detail}
    write_gradebook(folder / "grades.csv", columns, {**reports, **dict.fromkeys(failures)})
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "students": manifest}), encoding="utf-8")
    return folder


@pytest.fixture
def practical_results(tmp_path):
    rng = np.random.default_rng(1)
    reports = {f"student {n:02d}": practical_student(rng, n) for n in range(12)}
    reference = _module_text(SOLUTIONS)
    answers = {name: {MODULE: reference + f"\n# {name}\n"} for name in reports}
    answers["student 01"] = {MODULE: reference + ANA}
    answers["student 02"] = {MODULE: reference + near_copy(ANA, BRUNO_RENAMES)}
    failures = {"slow": "stopped after 0.5 s", "crashy": "Traceback … expected 0.731977 got 0.1234"}
    return write_results(tmp_path / "results", reports, answers, failures)


def test_shortcuts_metrics_and_failures_are_reported(practical_results):
    write_class_report(practical_results, SETTINGS, "en")
    markdown = (practical_results / "class.md").read_text(encoding="utf-8")
    flags = md_table(markdown, "Students flagged")
    shortcut = [row for row in flags if row[0] == "student 04"]
    assert len(shortcut) == 1 and shortcut[0][1].startswith("forbidden shortcut: ") and "RNNCell" in shortcut[0][1]
    assert shortcut[0][2] == "rnn_basics.rnncell_forward"
    assert ["slow", "grading failed (stopped after 0.5 s)", ""] in flags
    assert ["crashy", "grading failed (grading.log)", ""] in flags and "0.731977" not in markdown
    assert "12 of 14 students graded; 2 without a grade" in markdown
    metrics = markdown.split("## Trained tasks: metrics and training time\n", 1)[1].split("\n## ", 1)[0]
    accuracy = [
        json.loads((practical_results / f"student {n:02d}" / "report.json").read_text())["exercises"][2]["messages"][0][
            "params"
        ]["value"]
        for n in range(12)
    ]
    assert f"12 students; mean {statistics.fmean(accuracy):.3f}, median {statistics.median(accuracy):.3f}" in metrics
    assert "full credit at 0.5, none at 0.25" in metrics and "MSE / persistence MSE" in metrics
    assert "training time: median" in metrics
    mistakes = md_table(markdown, "Diagnosed mistakes, most frequent first")
    assert mistakes == [
        ["rnn_basics.rnn_step", Message("diag_missing_bias", {"bias": "b_h"}).render("en"), "4", "33 %"]
    ]
    pairs = md_table(markdown, "Code that looks copied")
    assert [r[1] for r in pairs] == ["student 01 ↔ student 02"]
    assert "data:image" not in markdown and not re.search(r"</?[a-z]+[ >]", markdown)  # text, no markup


def test_the_html_is_self_contained_with_every_plot(practical_results):
    write_class_report(practical_results, SETTINGS, "pt")
    page = (practical_results / "class.html").read_text(encoding="utf-8")
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    titles = [title for title, _ in images]
    assert titles == [
        "Distribuição das notas",
        "rnn_basics: resultado por exercício",
        "name_classifier: resultado por exercício",
        "forecast: resultado por exercício",
        "Enganos mais frequentes",
        "name_classifier.train_name_classifier: acurácia",
        "name_classifier.train_name_classifier: tempo de treino",
        "forecast.train_forecaster: MSE / MSE da persistência",
        "forecast.train_forecaster: tempo de treino",
        "Pares de alunos com código em comum",
    ]
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for _, data in images)
    assert not re.search(r'(src|href)="(?!data:)', page)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_headless_chromium_shows_every_plot(practical_results):
    import matplotlib.image

    write_class_report(practical_results, SETTINGS, "pt")
    shot = practical_results / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1300,3400",
            f"--screenshot={shot}",
            (practical_results / "class.html").as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    pixels = (matplotlib.image.imread(io.BytesIO(shot.read_bytes()), format="png")[..., :3] * 255).round()

    def pixels_of(colour: str, tolerance=10) -> int:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(pixels - rgb) <= tolerance).all(axis=-1).sum())

    for colour in (
        plots.TOTALS_COLOUR,
        plots.OUTCOME_COLOURS["full"],
        plots.MISTAKES_COLOUR,
        plots.METRIC_COLOUR,
        plots.TRAINING_COLOUR,
    ):
        assert pixels_of(colour) > 500, colour
    assert pixels_of(plots.SIMILARITY_COLOUR, tolerance=40) > 20  # the one pair that shares code
    assert pixels_of(plots.FULL_LINE, 30) > 50 and pixels_of(plots.ZERO_LINE, 30) > 50  # the thresholds drawn


HOSTILE = [
    ("timeout", "timeout", {"key": "timeout", "params": {"name": "rnn_step", "seconds": 3}}),
    ("crash", "error", {"key": "crash", "params": {"name": "rnn_step", "module": MODULE, "detail": "SIGSEGV"}}),
    ("memory", "error", {"key": "memory", "params": {"name": "rnn_step", "limit_mb": 3072}}),
    (
        "forbidden",
        "error",
        {
            "key": "raised",
            "params": {
                "name": "rnn_step",
                "exc_type": "OSError",
                "message": "[Errno 30] Read-only file system: '/etc/x'",
            },
        },
    ),
    (
        "forbidden",
        "error",
        {"key": "raised", "params": {"name": "rnn_step", "exc_type": "PermissionError", "message": ""}},
    ),
]


@pytest.mark.parametrize("kind, status, message", HOSTILE, ids=[f"{h[0]}-{h[2]['key']}" for h in HOSTILE])
def test_hostile_behaviour_is_flagged_by_kind(tmp_path, kind, status, message):
    from autograder.classroom.class_report.results import read_results
    from autograder.classroom.class_report.stats import flags

    ordinary = {"key": "raised", "params": {"name": "rnn_step", "exc_type": "ValueError", "message": "shapes differ"}}
    reports = {
        "mallory": report_of([exercise("rnn_basics.rnn_step", 0, 2, status, message)]),
        "honest mistake": report_of([exercise("rnn_basics.rnn_step", 0, 2, "error", ordinary)]),
    }
    found = flags(read_results(write_results(tmp_path / "results", reports, {}, {})))
    assert [(f.student, f.kind, f.exercise) for f in found] == [("mallory", kind, "rnn_basics.rnn_step")]


def test_tokenized_code_is_cached_and_gives_the_same_pairs(tmp_path, monkeypatch):
    import copydetect.utils

    from autograder.classroom.class_report.token_cache import TokenCache

    reference, stub = _module_text(SOLUTIONS), _module_text(ASSIGNMENTS)
    answers = {"ana": reference + ANA, "bruno": reference + near_copy(ANA, BRUNO_RENAMES), "carla": reference + CARLA}
    uncached = compare_module(MODULE, answers, stub, **SETTINGS)
    cache = TokenCache(tmp_path / "cache")
    assert compare_module(MODULE, answers, stub, tokens=cache, **SETTINGS) == uncached
    assert len(list((tmp_path / "cache").glob("*.json"))) == 4  # three students and the stub

    def no_lexing(*args, **kwargs):
        raise AssertionError("lexed again")

    monkeypatch.setattr(copydetect.utils, "filter_code", no_lexing)
    assert compare_module(MODULE, answers, stub, tokens=TokenCache(tmp_path / "cache"), **SETTINGS) == uncached
    fewer = TokenCache(tmp_path / "cache")
    compare_module(MODULE, {k: answers[k] for k in ("ana", "bruno")}, stub, tokens=fewer, **SETTINGS)
    fewer.prune()
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3  # carla's entry was not used


def test_every_class_report_text_has_both_languages_with_the_same_fields():
    import string
    import tomllib

    texts = tomllib.loads((ROOT / "autograder" / "locale" / "class_report.toml").read_text(encoding="utf-8"))
    assert len(texts) > 50
    for key, templates in texts.items():
        assert key.startswith("class_") and set(templates) == {"pt", "en"}, key
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(templates[lang]) if name} for lang in ("pt", "en")
        ]
        assert fields[0] == fields[1], key


def test_the_graded_code_is_kept_for_py_files_and_notebooks(tmp_path):
    from autograder.classroom.class_report import snapshot_answers

    (tmp_path / "ana").mkdir()
    shutil.copy(SOLUTIONS / f"{MODULE}.py", tmp_path / "ana")
    (tmp_path / "bruno").mkdir()
    shutil.copy(ROOT / "source" / MODULE / f"{MODULE}.ipynb", tmp_path / "bruno")
    (tmp_path / "results" / "bruno" / "answers").mkdir(parents=True)
    (tmp_path / "results" / "bruno" / "answers" / "bptt.py").write_text("stale")  # from an older run
    snapshot_answers([("ana", tmp_path / "ana"), ("bruno", tmp_path / "bruno")], tmp_path / "results", [MODULE, "bptt"])
    assert (tmp_path / "results" / "ana" / "answers" / f"{MODULE}.py").read_text() == _module_text(SOLUTIONS)
    notebook = (tmp_path / "results" / "bruno" / "answers" / f"{MODULE}.py").read_text()
    assert notebook.startswith(f"# Extracted from {MODULE}.ipynb") and "def rnn_step(" in notebook
    assert sorted(p.name for p in (tmp_path / "results").rglob("*.py")) == [f"{MODULE}.py", f"{MODULE}.py"]


@pytest.mark.slow
def test_a_graded_shortcut_is_flagged_with_the_routine_it_called(tmp_path):
    """End to end with the from-scratch enforcement: the key it records is the one counted."""
    from autograder.classroom.class_report.results import read_results
    from autograder.classroom.class_report.stats import flags
    from autograder.classroom.classroom import grade_all
    from conftest import submission

    submission(tmp_path / "class" / "honest", MODULE)
    submission(
        tmp_path / "class" / "shortcut",
        MODULE,
        append="""
        import torch as _torch
        def sigmoid(x):
            return _torch.sigmoid(_torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()
    """,
    )
    grade_all(tmp_path / "class", tmp_path / "results", policy_path=POLICY, only=MODULE, jobs=2, show_progress=False)
    found = {
        (f.student, f.exercise, f.message["key"])
        for f in flags(read_results(tmp_path / "results"))
        if f.kind == "shortcut"
    }
    assert found == {
        ("shortcut", f"{MODULE}.{name}", "scratch_forbidden")  # sigmoid and the two that call it
        for name in ("sigmoid", "rnn_readout", "VanillaRNN")
    }
    assert "torch" in (tmp_path / "results" / "class.md").read_text()
