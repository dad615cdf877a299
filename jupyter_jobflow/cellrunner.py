"""``python -m jupyter_jobflow.cellrunner``: the command line of every notebook cell's job.

This name is public: stored jobs and kernels already running name it, so it stays here while the
code lives in ``notebook/cellrunner.py``."""

from .notebook.cellrunner import main

if __name__ == "__main__":
    main()
