"""The sandbox's escapes are closed: student code runs as an unprivileged user without the
host's /proc/sys, /dev or shared memory, within cgroup limits. Each hostile probe costs at
most its own exercise and leaves the host as it was."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from autograder.sandbox import cgroups, isolation
from conftest import graded_probe, needs_namespaces, policy_with

needs_cgroups = pytest.mark.skipif(
    cgroups.unavailable_reason() is not None and os.geteuid() != 0,
    reason=f"no cgroups here: {cgroups.unavailable_reason()}",
)
ESCAPED = "                found = np.zeros(1)  # a wrong answer: the probe got through\n"  # in an `if` block


def test_confinement_and_cgroups_work_as_root():
    """On Linux as root (as in CI) the confinement tests must run: a skip there is a failure."""
    if os.geteuid() != 0:
        pytest.skip("not root: the grader refuses hidden checks here unless --unconfined")
    assert isolation.unavailable_reason() is None
    assert cgroups.unavailable_reason() is None


def only_rnn_step_lost(exercises, status: str = "passed"):
    assert exercises["rnn_step"].status == status, exercises["rnn_step"].messages
    others = {name: e.status for name, e in exercises.items() if name not in ("rnn_step", "rnn_forward", "VanillaRNN")}
    assert set(others.values()) == {"passed"}, others


@needs_namespaces
def test_student_code_runs_as_an_unprivileged_user_without_capabilities(tmp_path):
    exercises = graded_probe(
        tmp_path / "sub",
        """
            import os
            status = open("/proc/self/status").read()
            caps = [line.split()[1] for line in status.splitlines() if line.startswith(("CapEff", "CapPrm", "CapBnd"))]
            if (os.getuid() == 0 or os.geteuid() == 0 or os.getgid() == 0 or os.getgroups()
                    or set(caps) != {"0000000000000000"}):
"""
        + ESCAPED,
    )
    only_rnn_step_lost(exercises)


@needs_namespaces
def test_core_pattern_cannot_be_written(tmp_path):
    """A safe probe: it would only write back the value it read."""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    exercises = graded_probe(
        tmp_path / "sub",
        """
            try:
                current = open("/proc/sys/kernel/core_pattern").read()
                with open("/proc/sys/kernel/core_pattern", "w") as file:
                    file.write(current)
            except OSError:
                pass
            else:
"""
        + ESCAPED,
    )
    only_rnn_step_lost(exercises)
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


@needs_namespaces
def test_sysrq_trigger_and_kernel_devices_cannot_be_opened(tmp_path):
    """Opened for writing only (nothing is ever written): /proc/sysrq-trigger, /dev/kmsg, the
    host's block devices; and no device node can be made."""
    block = sorted(f"/dev/{n}" for n in os.listdir("/dev") if stat.S_ISBLK(os.lstat(f"/dev/{n}").st_mode))
    exercises = graded_probe(
        tmp_path / "sub",
        f"""
            import os, stat
            opened = []
            for path in ["/proc/sysrq-trigger", "/dev/kmsg", "/dev/mem", "/dev/tty", *{block!r}]:
                try:
                    os.close(os.open(path, os.O_WRONLY))
                    opened.append(path)
                except OSError:
                    pass
            try:
                os.mknod("blockdev", stat.S_IFBLK | 0o600, os.makedev(7, 0))
                opened.append("mknod")
            except OSError:
                pass
            if opened:
"""
        + ESCAPED,
    )
    only_rnn_step_lost(exercises)


@pytest.fixture
def nested_mount():
    """A world-writable tmpfs mounted below /usr on the host: only a recursive read-only
    remount keeps the child from writing there."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    target = Path(f"/usr/local/share/grader-nested-{uuid.uuid4().hex[:8]}")
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "nested", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
        target.rmdir()


@needs_namespaces
def test_system_folders_are_read_only_down_to_nested_mounts(tmp_path, nested_mount):
    import sys

    places = ["/usr", "/etc", str(nested_mount), "/", "/dev", "/sys/kernel", sys.prefix, "/proc/sys/kernel"]
    exercises = graded_probe(
        tmp_path / "sub",
        f"""
            written = []
            for folder in {places!r}:
                try:
                    with open(folder + "/grader-probe", "w") as file:
                        file.write("x")
                    written.append(folder)
                except OSError:
                    pass
            if written:
"""
        + ESCAPED,
    )
    only_rnn_step_lost(exercises)
    assert not any(Path(place, "grader-probe").exists() for place in places)


@needs_namespaces
def test_dev_shm_is_private_and_capped(tmp_path):
    marker = Path("/dev/shm") / f"grader-host-{uuid.uuid4().hex[:8]}"
    marker.write_text("host")
    try:
        exercises = graded_probe(
            tmp_path / "sub",
            f"""
            import os
            if os.path.exists({str(marker)!r}):
                raise RuntimeError("the host's /dev/shm is visible")
            with open("/dev/shm/fill", "wb") as file:
                for _ in range(1024):
                    file.write(b"x" * (1 << 20))   # 1 GiB into a 64 MB tmpfs
""",
        )
    finally:
        marker.unlink()
    only_rnn_step_lost(exercises, status="error")
    message = exercises["rnn_step"].messages[0]
    assert message.params["exc_type"] == "OSError" and "No space left" in message.params["message"]
    assert not Path("/dev/shm/fill").exists()


@needs_cgroups
@needs_namespaces
def test_shared_memory_past_the_cap_is_stopped_by_the_cgroup(tmp_path):
    policy = policy_with(tmp_path, "memory_limit_mb = 3072", "memory_limit_mb = 1024")
    exercises = graded_probe(
        tmp_path / "sub",
        """
            import mmap
            shared = mmap.mmap(-1, 8 << 30, flags=mmap.MAP_SHARED)   # not counted by RLIMIT_DATA
            for offset in range(0, len(shared), 4096):
                shared[offset] = 1
""",
        policy=policy,
    )
    only_rnn_step_lost(exercises, status="error")
    assert exercises["rnn_step"].messages[0].key == "memory"


@needs_cgroups
@needs_namespaces
def test_a_fork_bomb_stops_at_the_process_limit_and_nothing_survives(tmp_path):
    marker = f"gm{uuid.uuid4().hex[:8]}"
    exercises = graded_probe(
        tmp_path / "sub",
        f"""
            import ctypes, os, time
            started = 0
            try:
                for _ in range(500):
                    if os.fork() == 0:
                        ctypes.CDLL(None).prctl(15, {marker!r}.encode())   # PR_SET_NAME, for pgrep
                        hoard = b"x" * (8 << 20)
                        time.sleep(3600)
                        os._exit(0)
                    started += 1
            except OSError:
                raise RuntimeError(f"fork refused after {{started}} processes")
""",
    )
    only_rnn_step_lost(exercises, status="error")
    message = exercises["rnn_step"].messages[0].params["message"]
    assert message.startswith("fork refused after") and int(message.split()[3]) < 500
    assert subprocess.run(["pgrep", "-x", marker], capture_output=True).stdout == b""


@needs_namespaces
def test_sysv_shared_memory_stays_in_the_child_and_dies_with_it(tmp_path):
    key = 0x4752_0000 + uuid.uuid4().int % 0xFFFF
    exercises = graded_probe(
        tmp_path / "sub",
        f"""
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.shmat.restype = ctypes.c_void_p
            segment = libc.shmget({key}, 16 << 20, 0o1000 | 0o600)   # IPC_CREAT
            if segment < 0:
                raise RuntimeError("shmget failed")
            ctypes.memset(libc.shmat(segment, None, 0), 1, 16 << 20)
            if str({key}) not in open("/proc/sysvipc/shm").read():
                raise RuntimeError("the segment is not there")
""",
    )
    only_rnn_step_lost(exercises)
    host_keys = [line.split()[0] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert str(key) not in host_keys
