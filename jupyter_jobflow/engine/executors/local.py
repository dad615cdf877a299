"""Job attempts on this machine, detached, under a tiny ``/bin/sh`` supervisor (docs/architecture.md, "Jobs outlive their host").

``/bin/sh -c SUPERVISOR jobflow STATUS CWD UMASK ARGV...`` runs in its own session (pid = pgid =
sid), stdin /dev/null, stdout+stderr appended to ``logs/<job>/<attempt>.log``; it first creates
``status/<job>.<attempt>`` empty (private), runs the job, then writes the exit code there, so the
job outlives the scheduler's process. A shell, not Python: dash starts in a millisecond, Python in 70.

Exactly once: the status path names the attempt (state directory, job, attempt) in the
supervisor's command line, so an attempt recorded as starting but whose pid a crash lost is found
again (``find``); and the empty status file, made before the job runs, tells "never started" (no
file: safe to start) from "started and vanished" (lost).

The status is one builtin ``printf`` ending in a newline, read only once the supervisor is gone:
"present and newline-terminated" is all or nothing like temp + ``mv``, without the millisecond of
an external ``mv``. sh reports death by signal N as 128+N; ``collect`` reads that as "killed by N"
only if ``signal`` sent N (noted in ``status/<job>.<attempt>.sig``), else as exit code 128+N.

Events (executors/__init__.py): a local attempt has begun once spawned, so ``watch`` reports
``started`` at once; a pidfd per supervisor (``pidwatch.py``) reports ``ended`` with the status
the moment it exits, or ``lost`` when it left none. The handle is ``{"pid", "start", "job",
"attempt"}``: the supervisor's pid, its create time (which tells a reused pid apart), and the
attempt, which names the status file.

Long because: the supervisor script, its ``tee`` wrapper and the signalling of its tree share
the trapped-signal set and the command-line layout that ``find`` relies on; the pidfd thread is
apart already (pidwatch.py).
"""

from __future__ import annotations

import os
import signal as _signal
import time
from contextlib import suppress
from pathlib import Path

import psutil

from ...core.errors import InvalidSpec, NotFound
from ...core.privacy import DIR_MODE, open_private, private_dir
from . import AttemptEvent, ExitStatus, Handle, LaunchRequest, Sink, job_env
from .pidwatch import PidfdWatcher

# The supervisor traps these with a no-op, so a killpg with one of them (SIGTERM at cancel, T3's
# ``--signal=SIG@secs`` pre-signal) reaches the job and leaves the supervisor alive to record the
# status. A trap with a handler is reset to the default in the job ('' would be inherited). Other
# signals (SIGKILL above all) go to the job's processes one by one, sparing the supervisor.
_TRAPPED = frozenset({_signal.SIGHUP, _signal.SIGINT, _signal.SIGQUIT, _signal.SIGUSR1,
                      _signal.SIGUSR2, _signal.SIGALRM, _signal.SIGTERM})
# No variable is set before the job ran: the job sees the environment it was given (plus PWD=cwd,
# minus OLDPWD, as after any ``cd``). ``exec`` never runs a builtin: argv ("exit", "3") is the
# program named exit, as with execvp, not the end of the supervisor.
_SUPERVISOR = (
    f"trap : {' '.join(str(int(s)) for s in sorted(_TRAPPED))}\n"
    'umask 077; : >"$1"; umask "$3"\n'  # "started" marker, private; the job keeps the user's umask
    '(cd -- "$2" && unset OLDPWD && shift 3 && exec "$@")\n'
    'printf "%d\\n" $? >"$1"\n'
)
# --output/--error: the job's streams also go to the user's files through tee, only when asked
# for (one sh and one or two tee more). It runs as the job (the head of its argv), so the supervisor
# and its command line stay as they are, and it starts in the job's directory with the user's umask.
# Attempt 1 truncates the files, a retry appends (Slurm: --open-mode=truncate, append on requeue).
# The exit status comes back through fd 3 (POSIX sh has no pipefail); fds 3 and 4 are closed for
# the job and tee. A signal that the supervisor traps (a cancel's SIGTERM) must reach the job
# alone: the wrapper and the job's subshell trap it with a handler (reset to the default in the
# job), tee ignores it, so the job may print while it shuts down, and its status is the one kept.
_SIGS = " ".join(str(int(s)) for s in sorted(_TRAPPED))
# the wrapper remembers the signal, for the status of a job whose subshell it killed before it ran
_OPEN = ("".join(f"trap 'g={128 + int(s)}' {int(s)}; " for s in sorted(_TRAPPED)) + "\n"
         'o=$1 e=$2 a=$3; shift 3\n'
         'for f in ${o:+"$o"} ${e:+"$e"}; do\n'
         '  { if [ "$a" = 1 ]; then true >"$f"; else true >>"$f"; fi; } 2>/dev/null ||'
         ' { printf "jobflow: cannot write %s\\n" "$f" >&2; exit 1; }\n'
         'done\n'
         'exec 4>&1\n')
_JOB = f'{{ trap : {_SIGS}; ( exec "$@" 3>&- 4>&- ); echo $? >&3; }}'  # ( ): default signals before exec
_TEE_O = f'{{ trap "" {_SIGS}; exec tee -a -- "$o" >&4 3>&-; }}'
_TEE_E = f'{{ trap "" {_SIGS}; exec tee -a -- "$e" >&4 3>&-; }}'
_TEE = {  # (output given, error given) -> how the job runs (the $(...) subshell traps too)
    (True, False): f's=$( trap : {_SIGS}; {{ {_JOB} 2>&1 | {_TEE_O}; }} 3>&1 )\n',
    (True, True): f's=$( trap : {_SIGS}; {{ {{ {_JOB} | {_TEE_O}; }} 2>&1 | {_TEE_E}; }} 3>&1 )\n',
    (False, True): f's=$( trap : {_SIGS}; {{ {{ {_JOB} >&4; }} 2>&1 | {_TEE_E}; }} 3>&1 )\n',
}


def output_argv(req: LaunchRequest) -> tuple[str, ...]:
    """The job's argv, behind the tee wrapper when it asked for --output/--error files."""
    if not (req.output or req.error):
        return req.argv
    script = _OPEN + _TEE[bool(req.output), bool(req.error)] + 'exit "${s:-${g:-1}}"\n'
    return ("/bin/sh", "-c", script, "jobflow-output", req.output or "", req.error or "", str(req.attempt),
            *req.argv)


# Default dispositions and no blocked signal, whatever the host has (Python ignores SIGPIPE and
# SIGXFSZ; a server started with nohup or '&' ignores SIGHUP or SIGINT).
_DEFAULT_SIGNALS = frozenset(_signal.valid_signals()) - {_signal.SIGKILL, _signal.SIGSTOP}
_SAME_START = 0.05  # seconds of tolerance on create times (psutil derives them from clock ticks)


#: What ``reconcile`` answers: still running, ended (with its status), or gone without a status.
Reconciled = ExitStatus | str


def local_handle(job_id: int, attempt: int, pid: int | None, start: float | None) -> Handle:
    return {"pid": pid, "start": start, "job": job_id, "attempt": attempt}


class LocalExecutor:
    name = "local"

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir).absolute()  # absolute: the status path identifies the attempt
        self._umask = _current_umask()
        self._logs, self._status = private_dir(self.state_dir / "logs"), private_dir(self.state_dir / "status")
        self._sink: Sink = lambda event: None
        self._watched: dict[tuple[int, int], Handle] = {}
        self._pidfds = PidfdWatcher(self._exited)

    # -- events -----------------------------------------------------------------------------
    def bind(self, sink: Sink) -> None:
        self._sink = sink

    def watch(self, job_id: int, attempt: int, handle: Handle) -> None:
        """``started`` now (a local attempt runs from its spawn), then ``ended``/``lost`` from
        its pidfd, or at once when the supervisor is gone already."""
        key = (job_id, attempt)
        if key in self._pidfds:
            return
        self._sink(AttemptEvent("started", job_id, attempt))
        fd = self.pidfd(handle)
        if fd is None:
            self._sink(self._end_event(handle))
            return
        self._watched[key] = handle
        self._pidfds.add(key, fd)

    def _exited(self, key: tuple[int, int]) -> None:
        handle = self._watched.pop(key, None)
        if handle is not None:
            self._sink(self._end_event(handle, now=True))

    def _end_event(self, handle: Handle, now: bool = False) -> AttemptEvent:
        """``now``: it ended this instant, by the engine's clock (a fake one in tests); else when
        its status file was written (it ended while nobody watched)."""
        found = self.reconcile(handle)
        if isinstance(found, ExitStatus):
            status = ExitStatus(found.exit_code, found.signal, None) if now else found
            return AttemptEvent("ended", handle["job"], handle["attempt"], status=status)
        return AttemptEvent("lost", handle["job"], handle["attempt"])

    def close(self) -> None:
        self._pidfds.close()
        self._watched.clear()

    def adopt(self, job_id: int, attempt: int) -> Handle | None:
        """Running (found by its command line), ended (its status file), vanished (started, no
        status: the watch reports it lost) or never begun (``None``)."""
        found = self.find(job_id, attempt)
        if found is not None:
            return found
        if self.started(job_id, attempt):
            return local_handle(job_id, attempt, None, None)
        return None

    def leader_pid(self, handle: Handle) -> int | None:
        return handle.get("pid")

    def log_path(self, job_id: int, attempt: int) -> Path:
        return self._logs / str(job_id) / f"{attempt}.log"

    def status_path(self, job_id: int, attempt: int) -> Path:
        return self._status / f"{job_id}.{attempt}"

    # -- processes --------------------------------------------------------------------------
    def launch(self, req: LaunchRequest) -> Handle:
        if not req.argv:
            raise InvalidSpec(f"job {req.job_id}: empty command")
        if not os.path.isdir(req.cwd):
            raise FileNotFoundError(f"job {req.job_id}: working directory {req.cwd} does not exist")
        log = self.log_path(req.job_id, req.attempt)
        log.parent.mkdir(exist_ok=True, mode=DIR_MODE)
        out = open_private(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # 0600: a log may hold secrets
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        status = str(self.status_path(req.job_id, req.attempt))
        for stale in (status, f"{status}.sig"):  # left by a launch whose record a crash lost
            with suppress(FileNotFoundError):
                os.unlink(stale)
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1),
                   (os.POSIX_SPAWN_DUP2, out, 2)]  # one open file for both: merged, in order
        actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]
        try:
            started_at = time.time()
            # posix_spawn (vfork) rather than Popen: as fast, and it resets signal handling.
            pid = os.posix_spawn(
                "/bin/sh", _supervisor_argv(status, req.cwd, self._umask, output_argv(req)),
                job_env(req), file_actions=actions, setsid=True, setsigmask=(),
                setsigdef=_DEFAULT_SIGNALS)
        finally:
            os.close(out)
            os.close(null)
        try:  # our child stays (a zombie) until collect() reaps it, unless someone else reaps it
            proc_start = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            proc_start = started_at  # gone already; is_alive is False either way
        return local_handle(req.job_id, req.attempt, pid, proc_start)

    def find(self, job_id: int, attempt: int) -> Handle | None:
        """The supervisor of an attempt whose launch was recorded but whose pid was not (the host
        died, or a commit failed, between the two): found by the status path in its command line."""
        want = _supervisor_argv(str(self.status_path(job_id, attempt)), "", "", ())[:5]
        for proc in psutil.process_iter(["cmdline", "create_time"]):
            try:
                argv = proc.info["cmdline"] or []
                if argv[:3] == want[:3] and argv[4:5] == want[4:5] and os.getsid(proc.pid) == proc.pid \
                        and proc.status() != psutil.STATUS_ZOMBIE:  # the leader, not its forked subshell
                    created = proc.info["create_time"]
                    return local_handle(job_id, attempt, proc.pid, created)
            except (psutil.Error, OSError):
                continue
        return None

    def started(self, job_id: int, attempt: int) -> bool:
        """Whether the attempt's supervisor ever began: it makes its status file before the job runs."""
        return self.status_path(job_id, attempt).exists()

    def kill(self, handle: Handle) -> None:
        """SIGKILL the attempt whole, supervisor included, and reap it: for a launch whose record
        could not be stored, which must leave no process behind. It then reads as lost."""
        proc = self._process(handle)
        if proc is None:
            return
        try:
            pids = {p.pid for p in proc.children(recursive=True)}
        except psutil.Error:
            pids = set()
        _kill(proc.pid, _signal.SIGKILL, group=True)
        for pid in pids | _members(proc.pid):
            _kill(pid, _signal.SIGKILL)
        with suppress(ChildProcessError):
            os.waitpid(proc.pid, 0)

    def _process(self, handle: Handle) -> psutil.Process | None:
        """The supervisor, zombie included, if the handle's pid is still that process."""
        if not handle.get("pid"):
            return None
        try:
            proc = psutil.Process(handle["pid"])
            return proc if abs(proc.create_time() - handle["start"]) <= _SAME_START else None
        except psutil.Error:
            return None

    def is_alive(self, handle: Handle) -> bool:
        proc = self._process(handle)
        try:
            return proc is not None and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def pidfd(self, handle: Handle) -> int | None:
        """A pidfd of the supervisor, readable once it exited; works for one started by an earlier
        scheduler process too. The caller closes it (``unwatch``). ``None`` if the supervisor
        has already ended: call ``collect`` right away."""
        if not handle.get("pid"):
            return None
        try:
            fd = os.pidfd_open(handle["pid"])
        except ProcessLookupError:
            return None
        if not self.is_alive(handle):  # checked after opening: the fd pins the process it names
            os.close(fd)
            return None
        return fd

    def collect(self, handle: Handle) -> ExitStatus | None:
        """Reap the supervisor if it is our child and ended, then read its status: ``None`` if
        there is none (the supervisor still runs, or died without writing one)."""
        if self._process(handle) is not None:  # never reap another child that reused the pid
            with suppress(ChildProcessError):  # not ours: started by an earlier scheduler
                os.waitpid(handle["pid"], os.WNOHANG)
        return self.read_status(handle["job"], handle["attempt"])

    def read_status(self, job_id: int, attempt: int) -> ExitStatus | None:
        """The attempt's recorded end, or ``None`` (running, never started, or died without one)."""
        path = self.status_path(job_id, attempt)
        try:
            with open(path, "rb") as f:
                text, ended_at = f.read(), os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            return None
        if not text.endswith(b"\n") or not text.strip().isdigit():
            return None  # cut short: the supervisor was killed while writing
        code = int(text)
        try:
            sent = {int(n) for n in Path(f"{path}.sig").read_text().split()}
        except FileNotFoundError:
            sent = set()
        if code > 128 and code - 128 in sent:
            return ExitStatus(None, code - 128, ended_at)
        return ExitStatus(code, None, ended_at)

    def reconcile(self, handle: Handle) -> Reconciled:
        """Re-adoption after a restart. In this order: the supervisor writes its status before it exits, so once
        it is seen gone, no status means lost, never "not written yet"."""
        if self.is_alive(handle):
            return "running"
        return self.collect(handle) or "lost"

    def signal(self, handle: Handle, sig: int) -> None:
        """Send ``sig`` to the job's whole tree: its process group plus the descendants that left
        it (``setsid``). No escalation here: the engine sends SIGTERM, waits ``kill_wait``, then
        sends SIGKILL (docs/rules.md, Cancelling and Time limits); the supervisor survives both and records the
        status. Does nothing once the supervisor has ended (its pid may be someone else's)."""
        proc = self._process(handle)
        try:
            if proc is None or not _job_started(proc):
                return
            # Listed before signalling: once their parent dies, escaped ones are no descendants.
            pids = {p.pid for p in proc.children(recursive=True)}
        except (psutil.Error, OSError):
            return
        with os.fdopen(open_private(f"{self.status_path(handle['job'], handle['attempt'])}.sig",
                                    os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a") as f:
            f.write(f"{int(sig)}\n")  # before the signal: collect() must see it when the job ends
        if sig in _TRAPPED:
            _kill(proc.pid, sig, group=True)  # one syscall for the group, forks in flight too
            pids = {pid for pid in pids if _pgid(pid) != proc.pid}
        else:  # SIGKILL, SIGSTOP...: everyone in the group but the supervisor, one by one
            pids |= _members(proc.pid) - {proc.pid}
        for pid in pids:
            _kill(pid, sig)

    def read_log(self, job_id: int, attempt: int, offset: int = 0, limit: int = 1 << 20
                 ) -> tuple[bytes, int]:
        """(Up to ``limit`` bytes from ``offset``, the offset to go on from.) A plain file: works
        while the job runs, after it ended, after a restart."""
        try:
            with open(self.log_path(job_id, attempt), "rb") as f:
                if offset >= os.fstat(f.fileno()).st_size:  # past the end: seeking there can fail (EINVAL)
                    return b"", offset
                f.seek(offset)
                data = f.read(limit)
        except FileNotFoundError:
            raise NotFound(f"No log for job {job_id} attempt {attempt}") from None
        return data, offset + len(data)


def _supervisor_argv(status: str, cwd: str, umask: str, argv: tuple[str, ...] | list[str]) -> list[str]:
    return ["/bin/sh", "-c", _SUPERVISOR, "jobflow", status, cwd, umask, *argv]


def _current_umask() -> str:
    """This process's umask, for the job (the supervisor makes its own files private)."""
    try:
        with open("/proc/self/status") as f:
            return next(line.split()[1] for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration):
        return "0022"


def _job_started(sup: psutil.Process, timeout: float = 1.0) -> bool:
    """Wait until the supervisor has set its traps (a signal before that kills it: lost) and the
    job was exec'd (dash swallows one that hits its subshell between fork and exec); a millisecond
    or two after launch. False if the supervisor has ended; True on timeout."""
    want = sum(1 << (s - 1) for s in _TRAPPED)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sup.status() == psutil.STATUS_ZOMBIE:
            return False
        with open(f"/proc/{sup.pid}/status") as f:
            caught = next(int(line[7:], 16) for line in f if line.startswith("SigCgt:"))
        if caught & want == want and any(_not_a_fork(c, sup) for c in sup.children()):
            return True
        time.sleep(0.0005)
    return True


def _not_a_fork(child: psutil.Process, sup: psutil.Process) -> bool:
    try:
        argv = child.cmdline()
        if argv[:2] == ["/bin/sh", "-c"] and argv[3:4] == ["jobflow-output"]:  # output_argv's wrapper:
            return any(_cmdline(p) == argv[7:] for p in child.children(recursive=True))  # until the job runs
        return argv != sup.cmdline()
    except psutil.Error:  # ended already: it did run
        return True


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _kill(pid: int, sig: int, group: bool = False) -> None:
    with suppress(ProcessLookupError, PermissionError):  # gone, or setuid: not ours to kill
        (os.killpg if group else os.kill)(pid, sig)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _members(pgid: int) -> set[int]:
    """Every process in the group, also those whose parent died (no longer descendants)."""
    return {int(n) for n in os.listdir("/proc") if n.isdigit() and _pgid(int(n)) == pgid}


def _inheritable_fds() -> list[int]:
    """What this process would pass on; the job gets none (a listening socket it inherited would
    outlive the server)."""
    return [fd for fd in map(int, os.listdir("/proc/self/fd")) if fd > 2 and _inheritable(fd)]


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:  # the listing's own descriptor, closed by now
        return False
