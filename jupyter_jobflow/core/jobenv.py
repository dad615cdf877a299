"""The environment of a job: what is stored with it (``stored_env``) and what it runs with
(``launch_env``). docs/security.md is the user's version of these rules.

Fronts (``gbatch``, the magics) send the submitter's whole environment; the service keeps only
what a job needs (``KEPT_NAMES``/``KEPT_PREFIXES``), plus what ``--export`` names, and never a
token of the host or of Jupyter (``never_stored``), even with ``--export ALL``. At launch a job
gets its stored environment on top of a minimal base (PATH, HOME, ...) and under the values it
needs to talk back to its host (``JOBFLOW_URL``, ``JOBFLOW_TOKEN``): never the host's own
environment, which holds the Jupyter server's secrets.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Mapping

from .errors import InvalidSpec
from .optvalues import parse_export

#: Kept from the submitter's environment by default: what finds programs, libraries, the active
#: virtualenv/conda env, locale and time zone, caches and GPU/thread settings of training code.
KEPT_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TMP", "TEMP",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH",
    "MODULEPATH", "LOADEDMODULES", "_LMFILES_", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
    "HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE", "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_HOME", "TORCH_CUDA_ARCH_LIST", "XLA_FLAGS",
    "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "MPLCONFIGDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
})
KEPT_PREFIXES = ("LC_", "CONDA_", "MAMBA_", "PYTHON", "CUDA_", "CUDNN_", "NCCL_", "NVIDIA_", "PYTORCH_",
                 "OMP_", "KMP_", "MKL_", "OPENBLAS_", "NUMEXPR_", "XDG_")
#: A name that looks like a secret is not kept by a prefix rule (``--export NAME`` still keeps it).
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|(?:^|_)(?:API_)?KEY(?:$|_)|AUTH", re.I)
#: Never stored, whatever ``--export`` says: tokens of Jupyter and of jobflow, and the values each
#: launch sets itself (a stored copy would be stale).
NEVER_NAMES = frozenset({"JOBFLOW_TOKEN", "JOBFLOW_URL", "JOBFLOW_HOME", "JOBFLOW_JOB_ID", "JOBFLOW_ATTEMPT",
                         "JOBFLOW_JOB_NAME", "JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN"})
NEVER_PREFIXES = ("JPY_",)
#: What every job has even when nothing was stored (``--export NONE``, the Python API without env).
BASE_NAMES = ("PATH", "HOME", "USER", "LOGNAME", "SHELL")
_MIN_SECRET = 8  # a shorter "token" would match ordinary values by chance


def kept_by_default(name: str) -> bool:
    if name in KEPT_NAMES:
        return True
    return name.startswith(KEPT_PREFIXES) and not _SECRET_NAME.search(name)


def never_stored(name: str) -> bool:
    return name in NEVER_NAMES or name.startswith(NEVER_PREFIXES)


def stored_env(env: Mapping[str, str] | None, export: str | None = None, secrets: Iterable[str] = ()) -> dict[str, str]:
    """What is stored with a job submitted with ``env`` (the submitter's environment) and
    ``export`` (``--export``: ``ALL``, ``NONE``, ``NAME``, ``NAME=value``, comma-separated;
    None is the default list). A variable whose value holds one of ``secrets`` (the host's
    tokens) is dropped; naming a never-stored variable is an error."""
    env = dict(env or {})
    base, names, values = parse_export(export) if export is not None else ("DEFAULT", (), {})
    refused = [n for n in (*names, *values) if never_stored(n)]
    if refused:
        raise InvalidSpec(f"--export: {refused[0]} is never stored with a job (jobs get their host's JOBFLOW_URL "
                          f"and JOBFLOW_TOKEN at launch); leave it out")
    if base == "ALL":
        kept = dict(env)
    elif base == "NONE":
        kept = {}
    else:
        kept = {k: v for k, v in env.items() if kept_by_default(k)}
    kept.update({n: env[n] for n in names if n in env})
    kept.update(values)
    tokens = [s for s in secrets if s and len(s) >= _MIN_SECRET]
    return {k: v for k, v in kept.items() if not never_stored(k) and not any(t in v for t in tokens)}


def launch_env(stored: Mapping[str, str], runtime: Mapping[str, str],
               host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a job starts with: a minimal base from the host (``BASE_NAMES``), its
    stored environment over it, and the host's ``runtime`` values (how to reach the host) on top."""
    host = os.environ if host is None else host
    base = {k: host[k] for k in BASE_NAMES if k in host}
    base.setdefault("PATH", os.defpath)
    return {**base, **stored, **runtime}
