"""The HTTP API over ``JobService``, served by two hosts with the same handlers: the Jupyter server
extension (``app.JobflowApp``) and the standalone daemon (``daemon.serve``). See docs/api.md."""
