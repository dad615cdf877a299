"""The property test of issue 9 item 3: nothing a request sends can stop the service.

One real daemon for the module. Hypothesis drives ``POST jobs`` (JSON bodies, and gbatch's
``argv`` word lists built from the option parser's own flags), every other job route and every
flow route (paths, queries, bodies, raw bytes), and what a client sends on the event stream, with
generated input: huge numbers, unicode digits, infinities, nesting, 5,000-digit ids. Each answer must be a success or a typed 4xx (JSON ``message`` and
``reason``), never a 5xx; the daemon must live; a rejected submission (of a job, a flow, a template, a run)
must store nothing. The last
test proves the scheduler survived it all: a probe job still runs to Finished, and the daemon
logged no traceback. Bounded: a few hundred examples per route, well under a minute in all.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import Daemon

from jupyter_jobflow.core.options import build_parser
from jupyter_jobflow.server.parsing import REDO_FIELDS, SUBMIT_FIELDS, UPDATE_FIELDS

FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

WEIRD_WORDS = ["", " ", "0", "1", "-1", "²", "١٢", "9" * 5000, "9223372036854775808", "1e300", "inf", "nan",
               "NaN", "25-0", "400-0", "4w", "30d", "1:00:00", "UNLIMITED", "@", "@~3", "@~99999999999",
               "afterok:1+4w", "afterok:1+400d", "afterok:" + "9" * 30, "afterany:@?afterok:@~1", "singleton",
               "0-9", "0-99999", "0-3%" + "9" * 20, "0-3%2", "8G", "99999999999T", "0,1", "gpu:2", "yes", "no",
               "failure,timeout", "a\nb", "x" * 300, "always", "true"]
WEIRD_NUMBERS = [0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 0.5, 1.5, 1e300, -1e300,
                 float("inf"), float("-inf"), float("nan")]
SCALARS = st.none() | st.booleans() | st.sampled_from(WEIRD_NUMBERS) | st.integers() | st.floats() | \
    st.sampled_from(WEIRD_WORDS) | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                         max_size=4), max_leaves=8)
#: what a fuzzed job runs: never a generated program
COMMANDS = st.sampled_from([["true"], "true", [], [1], 5, None, {"a": 1}, ["true"] * 20_000, "", ["true", "\0"]])
SAFE_KEYS = [k for k in SUBMIT_FIELDS if k not in ("command", "script", "interpreter", "cwd", "env")]
FLAGS = sorted(build_parser()._option_string_actions)  # every spelling the parser knows, -h included


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("fuzz") / "state")
    held = d.ok("POST", "jobs", {"command": ["true"], "hold": True})["id"]
    done = d.ok("POST", "jobs", {"command": ["true"]})["id"]
    d.wait_job(done)
    d.ids = [held, done]
    d.ok("POST", "templates", {"name": "fz",
                               "source": "command: 'echo {{params.n}}'\nparams: {n: {type: int, default: 1}}\n"})
    d.ok("POST", "flows", {"name": "etl",
                           "source": "tasks:\n  a: {command: 'true'}\n  b: {template: fz, depends: a}\n"})
    d.run_id = d.ok("POST", "flows/etl/runs", {"cwd": str(d.state_dir.parent)})["run_id"]
    yield d
    d.cancel_everything()
    d.stop()


def total(host) -> int:
    return host.ok("GET", "jobs?limit=0")["total"]


def check(host, method: str, path: str, status: int, reply) -> None:
    assert status < 500, (method, path[:80], status, reply)
    if status >= 400 and not path.startswith("events"):  # the socket's own "use Upgrade" 400 is text
        assert isinstance(reply, dict) and isinstance(reply.get("message"), str) and reply.get("reason"), reply
        assert "\n" not in reply["message"] and len(reply["message"]) < 2000, reply
    assert host.proc.poll() is None, host.output()[-2000:]


def submit(host, body) -> None:
    before = total(host)
    raw = json.dumps(body).encode()  # NaN and Infinity too: Python's JSON reader takes them
    status, reply = host.request("POST", "jobs", raw=raw)
    check(host, "POST", "jobs", status, reply)
    if status >= 400:
        assert total(host) == before, (body, reply)  # nothing stored on a rejection
    else:
        assert status == 201 and total(host) == before + len(reply.get("array_ids") or [reply["id"]])


@settings(max_examples=300, **FUZZ)
@given(fields=st.dictionaries(st.sampled_from([*SAFE_KEYS, "bogus", "argv"]), JSON | SCALARS, max_size=6),
       command=COMMANDS)
def test_submit_json_bodies(host, fields, command):
    # the jobs run in the test's directory: a fuzzed --output file never lands in the checkout
    submit(host, {**fields, "command": command, "cwd": str(host.state_dir.parent)})


@settings(max_examples=300, **FUZZ)
@given(words=st.lists(st.sampled_from(FLAGS) | st.sampled_from(WEIRD_WORDS), max_size=8),
       tail=st.sampled_from([["true"], ["--", "true"], [], ["-"]]),
       env=st.dictionaries(st.sampled_from(["PATH", "A", "1X", "HOME"]), st.sampled_from(["/usr/bin:/bin", "x"]),
                           max_size=2))
def test_submit_gbatch_words(host, words, tail, env):
    submit(host, {"argv": words + tail, "cwd": str(host.state_dir.parent), "env": env, "scope": "fuzz"})


ROUTES = ["GET jobs/{id}", "PATCH jobs/{id}", "POST jobs/{id}/hold", "POST jobs/{id}/release",
          "POST jobs/{id}/redo", "GET jobs/{id}/explain", "GET jobs/{id}/log", "POST jobs/cancel", "GET jobs",
          "GET gpus", "GET status", "GET events", "DELETE jobs", "PUT jobs/{id}", "GET nope/{id}",
          "POST jobs/{id}/nope"]
QUERY_KEYS = ["state", "ids", "name", "group", "all", "limit", "offset", "attempt", "history", "since", "topics"]
BODY_KEYS = sorted({*UPDATE_FIELDS, *REDO_FIELDS, "ids", "dry_run", "bogus"})


@settings(max_examples=400, **FUZZ)
@given(route=st.sampled_from(ROUTES),
       job=st.sampled_from(["held", "done", "0", "00", "9" * 5000, "9223372036854775808", "²", "1"]) |
       st.integers(0, 2**70).map(str),
       query=st.dictionaries(st.sampled_from(QUERY_KEYS),
                             st.sampled_from([*WEIRD_WORDS, "log:²", "log:1", "jobs,gpus"]) | st.text(max_size=8),
                             max_size=3),
       body=st.none() | st.dictionaries(st.sampled_from(BODY_KEYS), JSON | SCALARS, max_size=4) | JSON |
       st.binary(max_size=30))
def test_every_other_route(host, route, job, query, body):
    method, path = route.split(" ")
    job_id = {"held": host.ids[0], "done": host.ids[1]}.get(job, job)
    path = quote(path.format(id=job_id)) + ("?" + urlencode(query) if query else "")
    if method == "POST" and path.startswith("jobs/cancel") and isinstance(body, dict):
        body.pop("ids", None)  # never cancel the fixture's own jobs (a random id list may still hit them)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    status, reply = host.request(method, path, raw=raw)
    check(host, method, path, status, reply)


#: every flow route and verb (docs/api.md, Flows), and verbs they do not have
FLOW_ROUTES = ["GET flows", "POST flows", "GET flows/{name}", "POST flows/{name}/runs",
               "POST flows/{name}/tasks/{task}/run", "GET flows/{name}/tasks/{task}/inputs", "GET templates",
               "POST templates", "DELETE templates/{name}",
               "GET runs", "GET runs/{run}", "POST runs/{run}/cancel", "POST runs/{run}/resume", "GET runs/{run}/log",
               "PUT flows", "DELETE flows/{name}", "PATCH runs/{run}", "GET templates/{name}"]
FLOW_KEYS = ["name", "source", "format", "params", "dry_run", "cwd", "run", "from", "only", "as_new_run", "bogus"]
#: what a fuzzed flow or template runs: never a generated program
SOURCES = ["tasks:\n  a: {command: 'true'}\n", "tasks:\n  a: {command: 'true'}\n  b: {command: 'true', depends: a}\n",
           "tasks:\n  a: {template: fz, params: {n: 2}}\n", "tasks:\n  a: {command: 'true', depends: a}\n",
           "tasks:\n  a: {command: 'true', depends: 'afterok:zz'}\n", "tasks: [1, 2]", "tasks: {a: {command: 1}}",
           "{", "- x", "", "tasks:\n  a: {command: 'echo {{params.n}}', gpus: 99}\n", "command: 'true'\n",
           "command: 'echo {{params.n}}'\nparams:\n  n: {type: int, default: 1}\n", "params: {n: {type: nope}}",
           "script: 'true'\nparams: {n: {type: float, required: true}}\n", json.dumps({"name": "x", "tasks": [{}]}),
           '{"cells": [], "nbformat": 4}', "x" * 5000]
NAMES = ["etl", "fz", "nope", "x" * 300, "²", "9", "a b", "a/b", "", "etl__manual", "-a", "a" * 5000]
GOOD_NAMES = st.sampled_from(["etl", "fz", "fz2"]) | st.sampled_from(NAMES)
#: bodies of each route's documented shape, values fuzzed: so that many are accepted and runs start
SHAPED = {
    "POST flows": st.fixed_dictionaries({"name": GOOD_NAMES, "source": st.sampled_from(SOURCES[:3]) |
                                         st.sampled_from(SOURCES)},
                                        optional={"format": st.sampled_from(["yaml", "json", "ipynb", "nope"])}),
    "POST templates": st.fixed_dictionaries({"name": GOOD_NAMES, "source": st.sampled_from(SOURCES[11:15]) |
                                             st.sampled_from(SOURCES)}),
    "POST flows/{name}/runs": st.fixed_dictionaries(
        {}, optional={"params": st.dictionaries(st.sampled_from(["n", "lr", "²"]), SCALARS, max_size=2),
                      "dry_run": st.booleans(), "cwd": st.just("")}),
    "POST runs/{run}/resume": st.fixed_dictionaries(
        {}, optional={"from": st.sampled_from(["a", "b", "nope"]), "only": st.sampled_from(["a", "b"]),
                      "as_new_run": st.booleans()}),
    "POST flows/{name}/tasks/{task}/run": st.fixed_dictionaries({}, optional={"run": st.sampled_from(["nope", "9"]) |
                                                                               SCALARS, "cwd": st.just("")}),
}
FLOW_VALUES = st.sampled_from(SOURCES) | st.sampled_from(["yaml", "ipynb", "json", "nope", "a", "prep"]) | \
    st.sampled_from(NAMES) | JSON | SCALARS


def stored(host) -> tuple[int, ...]:
    return (len(host.ok("GET", "flows")["flows"]), len(host.ok("GET", "templates")["templates"]),
            len(host.ok("GET", "runs")["runs"]), total(host))


@settings(max_examples=300, **FUZZ)
@given(route=st.sampled_from(FLOW_ROUTES), name=GOOD_NAMES, task=st.sampled_from(["a", "b", "nope", "²"]),
       run=st.just("the run") | st.sampled_from(["nope", "etl__manual__1__2", "9", "x" * 300]),
       query=st.dictionaries(st.sampled_from(["force", "flow", "limit", "offset", "task", "run", "bogus"]),
                             st.sampled_from([*WEIRD_WORDS, "etl", "a"]) | st.text(max_size=8), max_size=3),
       body=st.none() | st.dictionaries(st.sampled_from(FLOW_KEYS), FLOW_VALUES, max_size=4) | JSON |
       st.binary(max_size=30), shaped=st.booleans(), data=st.data())
def test_every_flow_route(host, route, name, task, run, query, body, shaped, data):
    """Every answer a success or a one-line 4xx, the host alive, nothing stored on a rejection."""
    if shaped and route in SHAPED:
        body = data.draw(SHAPED[route])
    method, path = route.split(" ")
    path = quote(path.format(name=name, task=task, run=host.run_id if run == "the run" else run))
    path += "?" + urlencode(query) if query else ""
    if isinstance(body, dict) and "cwd" in body:
        body["cwd"] = str(host.state_dir.parent)  # a fuzzed run's tasks never write in the checkout
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    before = stored(host) if method != "GET" else None
    status, reply = host.request(method, path, raw=raw)
    check(host, method, path, status, reply)
    if before is not None and status >= 400:
        assert stored(host) == before, (route, body, reply)


SCHEDULE_ROUTES = ["PUT flows/fz/schedule", "GET flows/fz/schedule", "GET schedules", "POST flows/fz/backfill",
                   "POST runs/{run}/mark-success", "GET flows/nope/schedule", "PUT flows/nope/schedule"]
SCHEDULE_KEYS = ["cron", "tz", "start", "end", "catchup", "depends_on_past", "max_active_runs", "expired_limit",
                 "enabled", "from", "to", "reprocess", "run_backwards", "dry_run", "bogus"]
SCHEDULE_WORDS = ["0 0 1 1 *", "@yearly", "@daily", "* * * * *", "61 * * * *", "*/0 * * * *", "0 0 31 2 *", "@reboot",
                  "UTC", "Europe/Berlin", "Mars/Olympus", "../../etc", "2026-11-01", "2026-11-01T02:00+01:00", "0001-01-01",
                  "9999-12-31T23:59", "none", "failed", "completed"]


@settings(max_examples=300, **FUZZ)
@given(route=st.sampled_from(SCHEDULE_ROUTES),
       body=st.none() | st.dictionaries(st.sampled_from(SCHEDULE_KEYS),
                                        st.sampled_from(SCHEDULE_WORDS) | SCALARS | JSON, max_size=5) | JSON)
def test_the_schedule_routes(host, route, body):
    if not getattr(host, "fz", False):
        host.ok("POST", "flows", {"name": "fz", "source": "tasks:\n  a: {command: 'true'}\n"})
        host.fz = True
    runs = host.ok("GET", "runs?flow=fz&limit=1")["runs"]
    method, path = route.split(" ")
    path = path.format(run=runs[0]["run_id"] if runs else "fz__manual__x")
    status, reply = host.request(method, path, raw=json.dumps(body).encode() if body is not None else None)
    check(host, method, path, status, reply)


@pytest.fixture(scope="module")
def listener(host):
    """An event stream that watches the held job's log: quiet, so what comes back is only our pongs."""
    ws = host.events(f"topics=log:{host.ids[0]}")
    yield ws
    ws.close()


@settings(max_examples=150, **FUZZ)
@given(message=JSON.map(json.dumps) | st.text(max_size=300) | st.binary(max_size=300) |
       st.sampled_from(['{"visible": false}', '{"visible": true}', '{"visible": "maybe"}', "[" * 5000,
                        "x" * 1_000_000, '{"visible": ' * 100]))
def test_what_a_client_sends_on_the_event_stream(listener, message):
    """Clients may say ``{"visible": <bool>}``; nothing they send closes the stream (the server
    answers the ping after it, in order) or, by the last test, logs a traceback."""
    if isinstance(message, bytes):
        listener.send_binary(message)
    else:
        listener.send(message)
    listener.ping(b"after")
    assert listener.recv_data(control_frame=True) == (0xA, b"after")  # a pong: the stream is open


def test_the_scheduler_survived_the_fuzz(host):
    assert total(host) > 20  # the fuzz was not all rejections: accepted jobs with far timers, retries, arrays
    probe = host.ok("POST", "jobs", {"command": ["sh", "-c", "echo probe"]})
    assert host.wait_job(probe["id"])["state"] == "Finished"
    assert host.ok("GET", f"jobs/{probe['id']}/log")["text"] == "probe\n"
    status = host.ok("GET", "status")
    assert (status["scheduler"], status["restarts"]) == ("running", 0), status
    assert "Traceback" not in host.output(), host.output()[-3000:]
    print("jobs stored by the fuzz:", total(host))
