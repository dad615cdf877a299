"""``gbatch``: the fast path of the terminal's most used command.

Python needs ~15 ms to start here, and a submission should cost little more. So this module imports
only ``os``, ``sys`` and two C modules, ``_socket`` and ``_json`` (``json`` itself imports ``re`` and
compiles its patterns: ~8 ms): the words go to the service as they are (``"argv"``
in the ``POST jobs`` body) and the service reads them with the one shared option parser, the same
code ``gbatch``'s full path and the magics run. Anything unusual takes the full path in ``cli.py``:
``--help``, no words, a script on stdin, ``--state-dir``, an ``https`` service, or no service at all
(whose one-line error lives there).
"""

from __future__ import annotations

import _json
import os
import sys

from ..client.home import default_home

SLOW_WORDS = {"-h", "--help", "-", "--version"}


def main() -> None:
    argv = sys.argv[1:]
    endpoint = _endpoint() if argv and not SLOW_WORDS & set(argv) and not argv[0].startswith("--state-dir") else None
    reply = _submit(endpoint, argv) if endpoint else None
    if reply is None:
        full()
        return
    status, data = reply
    if data.get("reason") == "HelpRequested":  # -hh, -Jx -h...: the full path prints the help here
        full()
        return
    if status >= 400:
        print(f"gbatch: error: {data.get('message') or f'HTTP {status}'}", file=sys.stderr)
        sys.exit(1)
    for warning in data.get("warnings") or ():
        print(warning, file=sys.stderr)
    print(data["id"] if data.get("parsable") else data["message"])


def _endpoint() -> tuple[str, int, str, str] | None:
    """``(host, port, path, token)`` of the service: the environment, else the endpoint file."""
    url, token = os.environ.get("JOBFLOW_URL"), os.environ.get("JOBFLOW_TOKEN", "")
    if not url:
        try:
            with open(os.path.join(default_home(), "endpoint.json")) as f:
                info = _loads(f.read())
            os.kill(info["pid"], 0)  # a host killed by SIGKILL leaves its file behind
        except (OSError, ValueError, KeyError, TypeError):
            return None
        url, token = info["url"], info.get("token") or ""
    if not url.startswith("http://"):
        return None
    hostport, _, path = url[len("http://"):].partition("/")
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "80")
    path = "/" + path if path.endswith("/") or not path else "/" + path + "/"
    if not path.endswith("jobflow/api/"):
        path += "jobflow/api/"
    return host.strip("[]"), int(port), path, token


def terminal_scope() -> str:
    """Whose history ``@`` means: this terminal's login session, else the user's.

    A terminal is keyed by its session (``tty:<boot>:<sid>:<start>``: the session id and its
    leader's start time, this boot), never by its device: ``/dev/pts/3`` is handed to the next
    terminal once this one closes, and a session id alone is reused too (docs/commands.md, ``@`` in a terminal)."""
    for fd in (0, 1):
        try:
            if os.isatty(fd):
                return "tty:" + session_key()
        except OSError:
            pass
    # getpass.getuser()'s own order, without importing getpass (5 ms here: contextlib, termios...)
    user = next((os.environ[k] for k in ("LOGNAME", "USER", "LNAME", "USERNAME") if os.environ.get(k)), None)
    if user is None:
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
    return f"user:{user}"


def session_key() -> str:
    """``<boot>:<sid>:<start>``: this process's session, told apart from any later session that
    gets the same id (after this one ended, or after a reboot). ``start`` is the session leader's
    start time in clock ticks since boot (``/proc/<sid>/stat``); if the leader is gone (its session
    lives on), the start of this process's oldest ancestor still in the session."""
    sid = os.getsid(0)
    start = _start_ticks(sid)
    if start is None:
        pid = os.getpid()
        while True:
            ppid = (_stat(pid) or (0, 0))[1]
            if ppid <= 1 or _getsid(ppid) != sid:
                break
            pid = ppid
        start = _start_ticks(pid) or 0
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
    except OSError:
        boot = "-"
    return f"{boot}:{sid}:{start}"


def _stat(pid: int) -> tuple[int, int] | None:
    """``(start ticks, parent pid)`` from ``/proc/<pid>/stat``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()  # the name may hold spaces and ')'
        return int(fields[19]), int(fields[1])  # stat fields 22 (starttime) and 4 (ppid)
    except (OSError, IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    got = _stat(pid)
    return got[0] if got else None


def _getsid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _submit(endpoint: tuple[str, int, str, str], argv: list[str]) -> tuple[int, dict] | None:
    """One HTTP/1.1 request over a plain socket. None only when the service could not be reached
    (then the full path says why); once the request is sent, never None: a retry could submit twice."""
    import _socket

    host, port, path, token = endpoint
    body = _dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "scope": terminal_scope(),
                   "scope_name": "this terminal"}).encode()
    head = (f"POST {path}jobs HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: token {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    sock = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.settimeout(30)
        try:
            sock.connect((host, port))
        except OSError:
            return None
        try:
            sock.sendall(head.encode() + body)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError as err:
            return 503, {"message": f"the jobflow service did not answer: {err}"}
    finally:
        sock.close()
    return _parse_reply(b"".join(chunks))


def _parse_reply(raw: bytes) -> tuple[int, dict]:
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.lower().split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
        if b"transfer-encoding: chunked" in lines:
            payload = _unchunk(payload)
        return status, _loads(payload.decode() or "{}")
    except (IndexError, ValueError, UnicodeDecodeError, StopIteration):
        return 502, {"message": "the jobflow service sent a reply that is not JSON"}


def _unchunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def _dumps(value: object) -> str:
    """JSON of str, list, dict, bool, None and int: all a submission by words holds."""
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dumps(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_dumps, value)) + "]"
    return {True: "true", False: "false", None: "null"}.get(value) if value in (True, False, None) else str(int(value))


class _Decoding:
    """What ``_json.make_scanner`` reads from ``json.JSONDecoder``: the standard choices."""

    strict, object_hook, object_pairs_hook = True, None, None
    parse_float, parse_int, parse_constant = float, int, None
    memo: dict = {}


_scan = _json.make_scanner(_Decoding())


def _loads(text: str) -> dict:
    value, _end = _scan(text.strip(), 0)  # raises StopIteration on garbage
    return value


# --- the full path: everything unusual (help, scripts, --state-dir, no service) ---------------


def command(argv: list[str]) -> int:
    from ..core.submission import submission
    from .common import connect, warn

    state_dir = None
    if argv[:1] == ["--state-dir"] and len(argv) > 1:  # only first: later words may be the command's
        state_dir, argv = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--state-dir="):
        state_dir, argv = argv[0].split("=", 1)[1], argv[1:]
    body, notes, parsable = submission(argv, scope=terminal_scope(), scope_name="this terminal")
    client = connect(state_dir)
    for note in notes:
        warn(f"gbatch: warning: {note}")
    reply = client.submit(body)
    for warning in reply.get("warnings") or ():
        warn(warning)
    print(reply["id"] if parsable else reply.get("message") or f"Submitted batch job {reply['id']} ({reply['name']})")
    return 0


def full() -> None:
    from .common import run

    sys.exit(run("gbatch", command))
