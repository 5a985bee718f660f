"""A warm template for a class run: one clean interpreter with numpy, torch and the optimizer
machinery imported, that forks each student's confined zygote (`zygote.py`) on request.

`grade-all` starts it once (`template_client.py`); without it, every student's zygote is a new
interpreter started through `unshare` and `setpriv` (`isolation.py`), which costs seconds of
CPU per student. It runs as root and unconfined, but only our code: it imports the child's
runtime package and the libraries, never a student's file, and holds nothing of the grader's
(no policy, no hidden seed, no oracle). It listens on a Unix socket in a folder only root can
enter, and answers root's processes only (SO_PEERCRED).

A request carries the student's jail, already built by the grader (the root filesystem script of
`isolation.root_filesystem_script`, the uid, the cgroups to join, the rlimits, the environment)
and four fds: the zygote's control pipe ends, its fd socket, and a pipe for the exit status.
The template forks a *keeper* (root, outside the student's namespaces), which unshares the
mount, network, PID, IPC and UTS namespaces, makes every mount private and forks the zygote,
the init of the new PID namespace. The zygote joins its cgroups, runs the script (the same
root filesystem as the `unshare` path), chroots, drops every capability from all five sets,
clears its groups, becomes the student's uid and gid, sets no_new_privs and its parent-death
signal, checks all of that in /proc/self/status (any difference: exit SETUP_FAILED before any
student code), and serves as `zygote.main`. The keeper does what `unshare --fork --kill-child`
and `setpriv --pdeathsig` do on the other path: it waits for the zygote, writes its exit status
to the status pipe, and kills it (and so its whole namespace) when the grader that asked for
it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import select
import signal
import socket
import struct
import subprocess
import sys

from . import child, wire, zygote

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_REC, MS_PRIVATE = 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SETUP_FAILED = 125  # isolation.SETUP_FAILED: the confinement failed, before any student code
REQUEST_BYTES = 1 << 20
FDS = 4  # control in, control out, fd socket, status pipe
PEERCRED = struct.calcsize("3i")  # pid, uid, gid of the connecting process
LENGTH = struct.Struct("!Q")

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


# -- the template ---------------------------------------------------------------------------
def serve(listener: socket.socket) -> None:
    """Warm up, then fork a keeper for each request until the listening socket is closed."""
    child._serve({"op": "warmup", "optimizer": True})
    gc.collect()
    gc.freeze()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a fork would copy a broken thread pool into every student
        raise SystemExit(f"the template has {threads} threads")
    signal.signal(signal.SIGCHLD, _reap_keepers)
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        # on a failure that grader falls back to starting its zygote itself
        with connection, contextlib.suppress(OSError, EOFError, ValueError, wire.WireError, KeyError):
            _answer(connection)


def _reap_keepers(*_) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _answer(connection: socket.socket) -> None:
    connection.settimeout(30)
    pid, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED))
    if uid != 0:
        return
    head, fds, _, _ = socket.recv_fds(connection, LENGTH.size, FDS)  # the request's length, with the fds
    try:
        if len(fds) != FDS or len(head) != LENGTH.size or LENGTH.unpack(head)[0] > REQUEST_BYTES:
            return
        request = wire.decode(_receive(connection, LENGTH.unpack(head)[0]))
        keeper = os.fork()
        if keeper == 0:
            _become_keeper(request, fds, grader=pid)  # never returns
        connection.sendall(wire.encode({"pid": keeper}))
    finally:
        for fd in fds:
            os.close(fd)


def _receive(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("the grader closed the connection")
        data += chunk
    return bytes(data)


# -- the keeper: root, outside the namespaces it makes ----------------------------------------
def _become_keeper(request: dict, fds: list[int], grader: int) -> None:
    code, status = SETUP_FAILED, fds[3]  # until the zygote runs, any failure is the confinement's
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        _close_all_but(fds)  # the template's listening socket and connection among them
        try:
            watched = os.pidfd_open(grader)
        except ProcessLookupError:  # that grader is gone already
            return
        _check(_libc.unshare(NAMESPACES), "unshare")
        _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        init = os.fork()
        if init == 0:
            os.close(status)
            os.close(watched)
            _become_zygote(request, fds[:3])  # never returns
        for fd in fds[:3]:
            os.close(fd)
        code = _watch(init, watched)
    finally:  # the grader reads it (a keeper killed before this reads as SIGKILL)
        with contextlib.suppress(OSError):
            os.write(status, str(code).encode())
        os._exit(code if 0 <= code < 256 else 128 + (-code % 128))


def _watch(init: int, grader_pidfd: int) -> int:
    """Wait for the zygote to exit (its exit code, negative for a signal); kill it if the grader dies."""
    init_pidfd = os.pidfd_open(init)
    poller = select.poll()
    poller.register(init_pidfd, select.POLLIN)
    poller.register(grader_pidfd, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if grader_pidfd in ready and init_pidfd not in ready:
            os.kill(init, signal.SIGKILL)  # the namespace's init: every process in it dies
        if init_pidfd in ready or grader_pidfd in ready:
            _, status = os.waitpid(init, 0)
            return os.waitstatus_to_exitcode(status)


# -- the zygote: init of the new PID namespace, confining itself -----------------------------
def _become_zygote(request: dict, fds: list[int]) -> None:
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        for procs in request["cgroup_procs"]:  # first: all that follows counts
            with open(procs, "w") as joined:
                joined.write("0")
        setup = subprocess.run(
            ["/bin/sh", "-c", request["script"]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        if setup.returncode != 0:
            os._exit(SETUP_FAILED)
        os.chroot(request["root"])
        os.chdir(request["home"])
        _drop_privileges(int(request["uid"]))
        _fresh_environment(request["env"], request["runtime"])
    except Exception:  # any failure here is the confinement's: no student code ran
        os._exit(SETUP_FAILED)
    try:
        zygote.main(*fds, request["rlimits"])
    finally:
        os._exit(0)


def _drop_privileges(uid: int) -> None:
    """What `setpriv --reuid --regid --clear-groups --no-new-privs --inh-caps=-all
    --bounding-set=-all --pdeathsig KILL` does, then checked in /proc/self/status."""
    with open("/proc/sys/kernel/cap_last_cap") as last:
        last_cap = int(last.read())
    for cap in range(last_cap + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop the bounding set")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    for half in data:
        half.inheritable = 0
    _check(_libc.capset(ctypes.byref(header), data), "clear inheritable capabilities")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # no keep-caps: permitted and effective are emptied
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # a uid change clears it
    _verify(uid)


def _verify(uid: int) -> None:
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status.read().splitlines() if ":" in line)
    expected = {
        "Uid": [uid] * 4,
        "Gid": [uid] * 4,
        "Groups": [],
        "NoNewPrivs": [1],
        **{f"Cap{kind}": [0] for kind in ("Inh", "Prm", "Eff", "Bnd", "Amb")},
    }
    for name, values in expected.items():
        text = fields[name].split()
        seen = [int(value, 16) for value in text] if name.startswith("Cap") else [int(value) for value in text]
        if seen != values:
            raise PermissionError(f"{name}: {fields[name].strip()}")
    if os.getpid() != 1:
        raise PermissionError("not the init of its own PID namespace")


def _fresh_environment(env: dict, runtime: str) -> None:
    """The student's environment and the runtime package inside the new root (the template's
    own copy is not there)."""
    import tempfile

    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None
    sys.path[0] = runtime
    sys.modules[__package__].__path__ = [os.path.join(runtime, __package__)]


def _close_all_but(keep: list[int]) -> None:
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 16)


def main(listen_fd: int) -> None:
    """The template process: `listen_fd` is a listening Unix socket (closed to stop it)."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    serve(socket.socket(fileno=listen_fd))
