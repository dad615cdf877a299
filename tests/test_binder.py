"""Binder, replayed without Docker: what repo2docker does with binder/, step by step, in a fresh
venv of runtime.txt's Python: binder/requirements.txt from the package index, binder/postBuild (which
installs this repository, building the front end from a fresh `jlpm install`, and fails unless both
extensions are enabled), then every tutorial under nbval inside binder/start's environment, with a
throw-away HOME. Meanwhile the memory of everything the session runs (the kernel, the daemon the
magics start, the jobs, and the pytest process standing in for the server) is sampled: Binder gives
a session 1 GB. Slow (minutes: pip, the front-end build, the tutorials); skipped only when node or
the package indexes are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER_MEMORY = 1024**3  # what mybinder.org gives a session


def _why_not() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: binder/postBuild builds the front end with it"
    # where pip installs from (this machine's pip configuration may add local indexes) and yarn's registry
    for url in (os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/", "https://registry.yarnpkg.com/"):
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15).close()
        except OSError as e:
            return f"the package index {url} is unreachable ({e}): Binder's replay installs from it"
    return None


def _python() -> str:
    """runtime.txt's interpreter: ``python-3.11`` -> python3.11."""
    version = (ROOT / "binder/runtime.txt").read_text().strip().removeprefix("python-")
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    assert found, f"binder/runtime.txt asks for Python {version}: install python{version} to replay Binder"
    return found


def _copy_repository(dest: Path) -> None:
    """The files a clone has (git ls-files), not what was built here: Binder starts from a clone."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink() and not name.startswith("labextension/node_modules"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _run(cmd: list, *, label: str, timeout: int, **kwargs) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{label} failed ({done.returncode}):\n{out[-4000:]}"
    return out


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    why = _why_not()
    if why:
        pytest.skip(why)
    base = tmp_path_factory.mktemp("binder")
    repo, venv = base / "repo", base / "venv"
    _copy_repository(repo)
    started = time.monotonic()
    _run([_python(), "-m", "venv", str(venv)], label="python -m venv", timeout=300)
    # repo2docker's environment has the Jupyter stack before postBuild; the replay adds its harness
    # (nbval, pytest). pip's and yarn's caches under the real HOME are reused: the second run is quicker
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBFLOW_", "JUPYTER", "JPY_", "PYTHONPATH"))}
    # (Jupyter's user-level config and data of this machine stay out: a Binder image has none)
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               JUPYTER_CONFIG_DIR=str(base / "jupyter-config"), JUPYTER_DATA_DIR=str(base / "jupyter-data"))
    _run([str(venv / "bin/python"), "-m", "pip", "install", "--progress-bar", "off",
          "-r", "binder/requirements.txt", "nbval>=0.11", "pytest>=8"],
         label="pip install -r binder/requirements.txt", timeout=1200, cwd=repo, env=env)
    post = _run([str(repo / "binder/postBuild")], label="binder/postBuild", timeout=1800, cwd=repo, env=env)
    print(f"\nbinder: environment and postBuild in {time.monotonic() - started:.0f} s")
    return {"repo": repo, "venv": venv, "env": env, "postBuild": post, "base": base}


def test_postbuild_installs_the_package_and_checks_both_extensions(binder):
    assert "jupyter_jobflow server extension and jupyter-jobflow labextension enabled and OK" in binder["postBuild"]
    venv, repo = binder["venv"], binder["repo"]
    where = _run([str(venv / "bin/python"), "-c", "import jupyter_jobflow; print(jupyter_jobflow.__file__)"],
                 label="import", timeout=60, cwd=binder["base"], env=binder["env"]).strip()
    assert where.startswith(str(venv)), where  # installed into the environment, not imported from the clone
    lab = venv / "share/jupyter/labextensions/jupyter-jobflow"
    assert (lab / "package.json").is_file() and list((lab / "static").glob("remoteEntry.*.js")), lab
    # built from its own `jlpm install`, whose node_modules (~200 MB) is not left in the image
    assert (repo / "jupyter_jobflow/static/production.txt").is_file()
    assert not (repo / "labextension/node_modules").exists()


def test_the_tutorials_run_in_binders_environment_within_binders_memory(binder, record_testsuite_property):
    repo, venv = binder["repo"], binder["venv"]
    home = binder["base"] / "home"
    home.mkdir()
    env = {**binder["env"], "HOME": str(home)}
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "IPYTHONDIR"):
        env.pop(key, None)
    tutorials = sorted(str(p.relative_to(repo)) for p in (repo / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert tutorials and tutorials[0].endswith("01-quickstart.ipynb"), tutorials
    # --noconftest: the tutorials' own conftest (simulated GPUs, a private state directory) is the
    # test suite's; on Binder only binder/start's environment is there
    cmd = [str(repo / "binder/start"), str(venv / "bin/python"), "-m", "pytest", "-p", "no:cacheprovider",
           "--noconftest", "-q", *tutorials]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = _Sampler(proc.pid, str(home))
    sampler.start()
    try:
        out, _ = proc.communicate(timeout=1500)
        state = home / ".jobflow"
        info = _run([str(repo / "binder/start"), str(venv / "bin/ginfo")], label="ginfo", timeout=60, cwd=repo, env=env)
    finally:
        if proc.poll() is None:
            proc.kill()
        sampler.stop()
        subprocess.run([str(repo / "binder/start"), str(venv / "bin/jobflow"), "stop"], cwd=repo, env=env,
                       capture_output=True, timeout=60)
        sampler.kill_leftovers()
    seconds = time.monotonic() - started
    assert proc.returncode == 0, out[-6000:]
    peak_mb = sampler.peak / 1024**2
    record_testsuite_property("binder_peak_rss_mb", round(peak_mb))
    record_testsuite_property("binder_tutorials_seconds", round(seconds))
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    print(f"\nbinder: {len(tutorials)} tutorials ({summary}) in {seconds:.0f} s; peak memory (RSS summed over the session's "
          f"{sampler.peak_count} processes at their peak, {sampler.seen} seen) {peak_mb:.0f} MB of 1024 MB "
          f"({sampler.breakdown} MB)")
    assert state.is_dir(), "binder/start's JOBFLOW_HOME (under $HOME) was not used"
    assert "GPU 0,1,2,3 are simulated" in info, info  # binder/start's 4 simulated GPUs
    assert sampler.peak < BINDER_MEMORY, f"the session peaked at {peak_mb:.0f} MB, Binder gives 1024 MB"


def _label(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    # jobs first: their command lines name paths under /tmp/pytest-of-*/, which is not the pytest process
    for needle, label in (("ipykernel", "kernel"), ("cellrunner", "jobs"), ("jobflow daemon", "daemon"),
                          ("server.daemon", "daemon"), ("-m pytest", "pytest (the server's stand-in)")):
        if needle in text:
            return label
    return "jobs"


class _Sampler:
    """Peak of the summed RSS of the session: the process tree under ``root`` (start -> pytest ->
    kernel) plus every process with this HOME (the daemon and its jobs run in sessions of their own,
    outside that tree), sampled every 0.2 s."""

    def __init__(self, root: int, home: str) -> None:
        self.root, self.home = root, home
        self.peak = self.peak_count = self.seen = 0
        self.breakdown = ""
        self._mine: dict[tuple[int, float], bool] = {}
        self._counted: set[tuple[int, float]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _is_mine(self, proc: psutil.Process) -> bool:
        key = (proc.pid, proc.create_time())
        if key not in self._mine:
            try:
                self._mine[key] = proc.environ().get("HOME") == self.home
            except (psutil.Error, OSError):
                self._mine[key] = False
        return self._mine[key]

    def processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        try:
            root = psutil.Process(self.root)
            found.update({p.pid: p for p in [root, *root.children(recursive=True)]})
        except psutil.Error:
            pass
        for proc in psutil.process_iter():
            try:
                if proc.pid not in found and self._is_mine(proc):
                    found[proc.pid] = proc
            except psutil.Error:
                continue
        return list(found.values())

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = count = 0
            parts: dict[str, int] = {}
            for proc in self.processes():
                try:
                    rss = proc.memory_info().rss
                    label = _label(proc.cmdline())
                    self._counted.add((proc.pid, proc.create_time()))
                except psutil.Error:
                    continue
                total, count = total + rss, count + 1
                parts[label] = parts.get(label, 0) + rss
            if total > self.peak:
                self.peak, self.peak_count = total, count
                self.breakdown = ", ".join(f"{k} {v / 1024**2:.0f}" for k, v in sorted(parts.items()))
            self.seen = len(self._counted)
            self._stop.wait(0.2)

    def kill_leftovers(self) -> None:
        """Only processes of this session (its HOME): a daemon or job a failed run left behind."""
        for proc in self.processes():
            if proc.pid != os.getpid():
                try:
                    proc.kill()
                except psutil.Error:
                    pass


def test_postbuild_fails_the_build_when_the_labextension_is_disabled(binder):
    venv, repo, env = binder["venv"], binder["repo"], binder["env"]
    jupyter = str(venv / "bin/jupyter")
    _run([jupyter, "labextension", "disable", "--level=sys_prefix", "jupyter-jobflow"], label="disable", timeout=120,
         cwd=repo, env=env)
    try:
        # (the front end is built now: the second install reuses it)
        done = subprocess.run([str(repo / "binder/postBuild")], capture_output=True, text=True, timeout=900,
                              cwd=repo, env=env)
        assert done.returncode != 0, done.stdout[-2000:]
        assert "postBuild: the jupyter-jobflow labextension is not installed, enabled and OK:" in done.stderr
    finally:
        _run([jupyter, "labextension", "enable", "--level=sys_prefix", "jupyter-jobflow"], label="enable",
             timeout=120, cwd=repo, env=env)
