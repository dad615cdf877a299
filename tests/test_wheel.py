"""The built wheel, not the source tree: `jupyter server` with the extension installed from it (its
own jupyter-config enables it), a submission through the API, and the job finishing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_prefix(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # the build reuses the front end that `jlpm build:prod` built (an editable install runs it; its
    # static/production.txt says so), else builds it
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, env={**os.environ, "CI": "true"})
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("jupyter_jobflow-*.whl"))
    prefix = out / "prefix"
    install_wheel(wheel, prefix)
    return prefix


def install_wheel(wheel: Path, prefix: Path) -> None:
    """Unpack a pure wheel into ``prefix`` as an installer would: its ``*.data/data/`` files under the
    prefix (etc/jupyter, share/jupyter), everything else into site-packages. Not pip: pip would first
    uninstall this project from the environment running the tests."""
    purelib = site_packages(prefix)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            head, _, rest = name.partition(".data/data/")
            target = prefix / rest if rest and "/" not in head else purelib / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))


def site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def request(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


def assert_production(widget: str, loader: str) -> None:
    # minified, no source map: ~100 KB (a development bundle is ~500 KB with its inline map), and
    # the loader (each saved panel's copy) a few KB
    assert "sourceMappingURL" not in widget and len(widget) < 200_000, len(widget)
    assert len(loader) < 4096 and "jobflow/static/widget.js" in loader


def test_the_wheel_ships_production_bundles(wheel_prefix):
    static = site_packages(wheel_prefix) / "jupyter_jobflow" / "static"
    assert_production((static / "widget.js").read_text(), (static / "loader.js").read_text())
    assert (static / "production.txt").exists()
    lab = wheel_prefix / "share/jupyter/labextensions/jupyter-jobflow/static"
    for js in lab.glob("*.js"):  # (css-loader's runtime has the words in a string: a map is a comment)
        assert not re.search(r"^//# sourceMappingURL=", js.read_text(), re.M), js.name


def test_a_wheel_built_from_a_development_tree_still_ships_production_bundles(tmp_path):
    """`jlpm build` (development: source maps, not minified) left its bundles in the tree; building
    the wheel rebuilds them for production instead of packing them."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: building the front end needs it")
    tree = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file() and not name.startswith("labextension/node_modules"):
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    (tree / "labextension/node_modules").symlink_to((ROOT / "labextension/node_modules").resolve())
    static = tree / "jupyter_jobflow/static"
    static.mkdir(parents=True)
    dev = "console.log('dev');\n//# sourceMappingURL=data:application/json;base64," + "A" * 400_000 + "\n"
    (static / "widget.js").write_text(dev)
    (static / "loader.js").write_text(dev)
    shutil.copytree(ROOT / "jupyter_jobflow/labextension", tree / "jupyter_jobflow/labextension")
    out = tmp_path / "out"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # jlpm
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(tree)],
                           capture_output=True, text=True, env={**os.environ, "CI": "true", "PATH": path}, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    with zipfile.ZipFile(next(out.glob("jupyter_jobflow-*.whl"))) as wheel:
        assert_production(wheel.read("jupyter_jobflow/static/widget.js").decode(),
                          wheel.read("jupyter_jobflow/static/loader.js").decode())


def test_jupyter_server_from_the_built_wheel_runs_a_job(wheel_prefix, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBFLOW_")}
    env.update(PYTHONPATH=str(site_packages(wheel_prefix)), JOBFLOW_HOME=str(tmp_path / "state"),
               JUPYTER_CONFIG_PATH=str(wheel_prefix / "etc" / "jupyter"))
    where = subprocess.run([sys.executable, "-c", "import jupyter_jobflow; print(jupyter_jobflow.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(wheel_prefix)), where  # the wheel's copy, not the checkout
    enabled = json.loads((wheel_prefix / "etc/jupyter/jupyter_server_config.d/jupyter_jobflow.json").read_text())
    assert enabled == {"ServerApp": {"jpserver_extensions": {"jupyter_jobflow": True}}}
    token = "wheel-test-token"
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--port=0", "--no-browser",
                               "--ServerApp.allow_root=True", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={tmp_path}"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = tmp_path / "state" / "endpoint.json"
        deadline = time.monotonic() + 60
        while not endpoint.exists():  # the extension writes it once the server listens
            assert server.poll() is None, server.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the extension wrote no endpoint.json"
            time.sleep(0.1)
        api = json.loads(endpoint.read_text())["url"].rstrip("/") + "/jobflow/api/"
        assert request(api + "status", token)["host"] == "jupyter"
        job = request(api + "jobs", token, "POST", {"command": ["sh", "-c", "echo from-the-wheel"]})
        deadline = time.monotonic() + 30
        while (state := request(api + f"jobs/{job['id']}", token)["job"]["state"]) not in ("Finished", "Failed"):
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state == "Finished"
        assert request(api + f"jobs/{job['id']}/log", token)["text"] == "from-the-wheel\n"
        # the panel's code, served to notebooks' loaders without login
        static = site_packages(wheel_prefix) / "jupyter_jobflow" / "static"
        with urllib.request.urlopen(api.replace("jobflow/api/", "jobflow/static/widget.js"), timeout=30) as reply:
            assert reply.read() == (static / "widget.js").read_bytes()
    finally:
        server.terminate()
        server.wait(30)


def test_the_wheel_ships_the_sidebar_settings_schema(wheel_prefix):
    # JupyterLab reads an extension's settings (here: job-end notifications) from its schemas folder
    ext = wheel_prefix / "share/jupyter/labextensions/jupyter-jobflow"
    schema = json.loads((ext / "schemas/jupyter-jobflow/sidebar.json").read_text())
    assert schema["properties"]["notifications"]["enum"] == ["off", "failures", "all"]
    assert schema["properties"]["notifications"]["default"] == "failures"
    assert json.loads((ext / "package.json").read_text())["jupyterlab"]["schemaDir"] == "schema"
