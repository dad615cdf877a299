"""A hosting process for the engine, for tests that kill it: runs a JobService on a state
directory until it is killed. With --chain it first submits a 3-job chain and prints the ids;
with --fanout N GATE CMD, a parent that waits for the file GATE and N children of it running CMD;
with --array N, once ready, a held array of N tasks."""

import argparse
import os
import signal

from jupyter_jobflow.engine.service import JobService

parser = argparse.ArgumentParser()
parser.add_argument("state_dir")
parser.add_argument("--chain", nargs=3, metavar="CMD")
parser.add_argument("--fanout", nargs=3, metavar=("N", "GATE", "CMD"))
parser.add_argument("--array", type=int, metavar="N", help="print ready, then submit a held N-task array")
args = parser.parse_args()
svc = JobService(args.state_dir).start()
ENV = {"env": dict(os.environ), "export": "ALL"}  # the jobs see this process's environment (RAN=...)
if args.chain:
    ids = [svc.submit(["sh", "-c", cmd], depends_on="@" if i else None, scope="host", **ENV).id
           for i, cmd in enumerate(args.chain)]
    print(" ".join(map(str, ids)), flush=True)
if args.fanout:
    n, gate, cmd = args.fanout
    parent = svc.submit(["sh", "-c", f"while [ ! -f {gate} ]; do sleep 0.01; done"], name="gate", **ENV).id
    ids = [svc.submit(["sh", "-c", cmd], dependency=f"afterok:{parent}", name="child", **ENV).id
           for _ in range(int(n))]
    print(" ".join(map(str, [parent, *ids])), flush=True)
print("ready", flush=True)
if args.array:
    svc.submit(["true"], array=f"0-{args.array - 1}", hold=True)
    print("submitted", flush=True)
signal.pause()
