"""``python -m jupyter_jobflow.cli gqueue -t``: a command without its console script."""

import importlib
import sys

COMMANDS = ("gbatch", "gqueue", "gcancel", "ginfo", "gjob", "gpipe", "jobflow")

if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
    sys.exit(f"usage: python -m jupyter_jobflow.cli {{{','.join(COMMANDS)}}} [args...]")
name = sys.argv.pop(1)
sys.argv[0] = name
importlib.import_module(f"jupyter_jobflow.cli.{name}").main()
