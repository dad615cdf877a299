"""``jupyter_jobflow.Flow``: the Python front of flows, with ``submit``/``run`` through the client.

    from jupyter_jobflow import Flow
    flow = Flow("etl").task("prep", command="python prep.py").task("train", command="...", depends="prep")
    run = flow.run({"lr": 0.1})          # stores the flow (a new version when it changed), starts a run
    run["run_id"]

The definition is core/flowdef's builder; it travels as its JSON form (``format: json``), so a
Python flow is stored and run exactly like the same flow from YAML or a notebook.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from ..core import flowdef


class Flow(flowdef.Flow):
    def __init__(self, name: str, *, client: Any = None, **kw: Any):
        super().__init__(name, **kw)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from .http import Client

            self._client = Client.discover()
        return self._client

    def submit(self) -> dict[str, Any]:
        """Store this flow (checked first, here): ``{"name", "owner", "version"}``."""
        definition = self.build()
        return self.client.save_flow(self.name, json.dumps(definition.to_dict()), "json")

    def run(self, params: Mapping[str, Any] | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        """Store this flow and start a run of it: the run as ``GET runs/{run_id}`` gives it (or the plan)."""
        self.submit()
        return self.client.create_run(self.name, dict(params or {}), dry_run=dry_run, cwd=os.getcwd())
