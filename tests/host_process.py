"""A hosting process for the engine, for tests that kill it: runs a JobService on a state
directory until it is killed. With --chain it first submits a 3-job chain and prints the ids."""

import argparse
import signal

from jupyter_jobflow.service import JobService

parser = argparse.ArgumentParser()
parser.add_argument("state_dir")
parser.add_argument("--chain", nargs=3, metavar="CMD")
args = parser.parse_args()
svc = JobService(args.state_dir).start()
if args.chain:
    ids = [svc.submit(["sh", "-c", cmd], depends_on="@" if i else None, scope="host").id
           for i, cmd in enumerate(args.chain)]
    print(" ".join(map(str, ids)), flush=True)
print("ready", flush=True)
signal.pause()
