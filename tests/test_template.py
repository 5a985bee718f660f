"""grade-all's warm template: the zygotes it forks are confined exactly like those started through
`unshare`, it serves root only, and the grader falls back to starting the zygote itself.

Every confinement property of tests/test_confinement.py also runs through the template there
(its `zygote_start` fixture); these tests cover what only the template has."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

from autograder.classroom import classroom, worker
from autograder.sandbox import isolation, template_client, wire
from conftest import ROOT, SOLUTIONS, needs_namespaces, submission

MODULE = "rnn_basics"
# Each answer raises what the student's process sees of itself; the report carries the text.
PROBE = """
def _seen(part):
    import os, socket
    if part == 0:
        fields = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
        return {k: fields[k].strip() for k in ('Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb',
                                               'NoNewPrivs')}
    if part == 1:
        return {'ppid': os.getppid(), 'cwd': os.getcwd(), 'links': socket.if_nameindex(),
                'own uid': os.getuid() == os.getgid() >= 200000, 'uid': os.getuid()}
    if part == 2:
        return {'root': sorted(os.listdir('/')),
                'writable': sorted({line.split()[1] for line in open('/proc/self/mounts') if ' rw,' in line})}
    if part == 3:
        return sorted(key for key in os.environ if key not in ('PWD', 'OLDPWD'))   # the unshare path's shell sets them
    pids = sorted(int(pid) for pid in os.listdir('/proc') if pid.isdigit())
    return (len(pids), pids[0], os.getpid() in pids)
def sigmoid(x): raise RuntimeError(repr(_seen(0)))
def rnn_step(x, h_prev, W_xh, W_hh, b_h): raise RuntimeError(repr(_seen(1)))
def rnn_readout(hs, W_hy, b_y): raise RuntimeError(repr(_seen(2)))
def many_to_one_loss(log_probs, targets): raise RuntimeError(repr(_seen(3)))
def many_to_many_loss(log_probs, targets): raise RuntimeError(repr(_seen(4)))
"""


def grade_with_stages(folder, tmp_path, env: dict) -> tuple[dict, dict]:
    """`python -m autograder grade` in a new process with `env` added: report.json and timings.json."""
    out, stages = tmp_path / "report.json", tmp_path / "stages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(folder),
            "--only",
            MODULE,
            "--device",
            "cpu",
            "--out",
            str(out),
            "--stages",
            str(stages),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text()), json.loads((stages / "timings.json").read_text())


def seen_by_the_student(report: dict, workdir_pattern=re.compile(r"/tmp/grade-[^/']+")) -> dict:
    """What each probing answer raised, with the child's own folder name and uid left out."""
    messages = {}
    for exercise in report["exercises"]:
        for message in exercise["messages"]:
            text = message.get("params", {}).get("message", "")
            if text[:1] in "{[(":
                name = exercise["id"].split(".")[1]
                messages[name] = re.sub(r"'uid': \d+", "'uid': U", workdir_pattern.sub("W", text))
    return messages


@needs_namespaces
def test_a_zygote_from_the_template_sees_what_one_started_through_unshare_sees(tmp_path, warm_template):
    folder = submission(tmp_path / "sub", MODULE, append=PROBE)
    direct, direct_timings = grade_with_stages(folder, tmp_path / "direct", {})
    forked, forked_timings = grade_with_stages(
        folder, tmp_path / "template", {template_client.ADDRESS_VARIABLE: warm_template.address}
    )
    assert (direct_timings["children_from_template"], forked_timings["children_from_template"]) == (0, 1)
    seen = seen_by_the_student(forked)
    assert {"sigmoid", "rnn_step", "rnn_readout", "many_to_one_loss", "many_to_many_loss"} <= set(seen)
    assert seen == seen_by_the_student(direct)
    assert "'NoNewPrivs': '1'" in seen["sigmoid"] and "'CapBnd': '0000000000000000'" in seen["sigmoid"]
    assert "'ppid': 1" in seen["rnn_step"] and "'links': [(1, 'lo')]" in seen["rnn_step"]
    assert "'own uid': True" in seen["rnn_step"]
    assert seen["many_to_many_loss"] == "(2, 1, True)"  # the zygote (init) and the module's process: nothing else


@needs_namespaces
def test_without_an_answering_template_the_grader_starts_the_child_itself(tmp_path):
    folder = submission(tmp_path / "sub", MODULE)
    report, timings = grade_with_stages(folder, tmp_path, {template_client.ADDRESS_VARIABLE: str(tmp_path / "none")})
    assert timings["children_from_template"] == 0 and timings["children_started"] == 1
    assert report["score"] == report["max_score"] > 0


@needs_namespaces
def test_a_stopped_template_costs_nothing_but_speed(tmp_path):
    from autograder.sandbox.runtime import child_environment

    template = template_client.Template(child_environment("cpu"))
    template.close()
    report, timings = grade_with_stages(
        submission(tmp_path / "sub", MODULE), tmp_path, {template_client.ADDRESS_VARIABLE: template.address}
    )
    assert timings["children_from_template"] == 0 and report["score"] == report["max_score"]


def confinement_request(folder, script: str) -> dict:
    """A zygote request for a child's folder below `folder` whose root filesystem script is `script`."""
    workdir = folder / "work"
    isolation.prepare_workdir(workdir)
    return {
        "script": script,
        "root": str(isolation.new_root_of(workdir)),
        "home": str(workdir / "home"),
        "uid": isolation.new_uid(),
        "cgroup_procs": [],
        "env": {},
        "runtime": str(workdir),
        "rlimits": {},
    }


@needs_namespaces
def test_a_zygote_whose_confinement_fails_exits_before_any_student_code(tmp_path, warm_template):
    (to_child_r, to_child_w), (from_child_r, from_child_w) = os.pipe(), os.pipe()
    ours, theirs = socket.socketpair()
    try:
        kept = template_client.spawn(
            warm_template.address, confinement_request(tmp_path, "exit 3"), [to_child_r, from_child_w, theirs.fileno()]
        )
        for fd in (to_child_r, from_child_w):  # the zygote's ends, as StudentProcess closes them
            os.close(fd)
        theirs.close()
        assert kept.wait(timeout=60) == isolation.SETUP_FAILED
        assert os.read(from_child_r, 1) == b""  # it never served: its reply pipe closed unused
    finally:
        os.close(to_child_w)
        os.close(from_child_r)
        ours.close()


@needs_namespaces
def test_the_template_answers_root_only(tmp_path, warm_template):
    """A process of another uid that reaches the socket with a valid request gets no zygote: its
    script (run as root, were it answered) never runs. The folder is root's only besides."""
    assert os.stat(os.path.dirname(warm_template.address)).st_mode & 0o077 == 0
    marker = tmp_path / "ran-as-root"
    tmp_path.chmod(0o777)
    request = wire.encode(confinement_request(tmp_path, f"touch {marker}; exit 3"))
    code = (
        f"import socket, os\ntry:\n s = socket.socket(socket.AF_UNIX); s.connect({warm_template.address!r})\n"
        f" r, w = os.pipe(); socket.send_fds(s, [{request!r}], [r, w, r, w]); s.settimeout(30)\n"
        " print(repr(s.recv(100)))\nexcept OSError: print('closed')"  # refused: reset, or a closed pipe
    )
    os.chmod(os.path.dirname(warm_template.address), 0o711)  # let the other uid reach the socket
    os.chmod(warm_template.address, 0o777)
    try:
        other = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.chmod(os.path.dirname(warm_template.address), 0o700)
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() in ("b''", "closed")  # closed without a reply
    assert not marker.exists()


def test_grade_all_starts_one_template_and_names_it_to_every_worker(tmp_path, monkeypatch):
    started, given = [], []

    class FakeTemplate:
        address = str(tmp_path / "template.sock")

        def __init__(self, environment):
            started.append(environment)
            self.closed = False

        def close(self):
            self.closed = True

    def grade_locally(run, server, *, environment=None, **_):
        given.append(environment)

    monkeypatch.setattr(template_client, "Template", FakeTemplate)
    monkeypatch.setattr(classroom, "_grade_locally", grade_locally)
    monkeypatch.setattr(isolation, "unavailable_reason", lambda: None)
    (tmp_path / "class" / "ana").mkdir(parents=True)
    (tmp_path / "class" / "ana" / f"{MODULE}.py").write_text((SOLUTIONS / f"{MODULE}.py").read_text())
    classroom.grade_all(
        tmp_path / "class", tmp_path / "out", policy_path=ROOT / "grading.toml", only=MODULE, show_progress=False
    )
    assert len(started) == 1 and started[0]["OMP_NUM_THREADS"] == "1" and "HOME" not in started[0]
    assert given == [{template_client.ADDRESS_VARIABLE: FakeTemplate.address}]


def test_grade_all_starts_no_template_where_children_are_not_confined(monkeypatch):
    monkeypatch.setattr(isolation, "unavailable_reason", lambda: "no namespaces")
    assert worker.warm_template("cpu") is None
