"""The documentation site: Sphinx + MyST (the docs stay GitHub-readable markdown), the tutorials
rendered from notebooks/ without running them (nbval runs them in the tests), the pydata theme
Jupyter projects use. Build: ``python -m sphinx docs docs/_build/html`` (``pip install -e .[docs]``).
The command, REST API and configuration references are generated from the code at build time
(``_ext/jobflow_docs.py``), never committed."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]  # our extension, and this checkout's package

project = "jupyter-jobflow"
author = "jupyter-jobflow contributors"
copyright = "jupyter-jobflow contributors"

extensions = ["myst_nb", "jobflow_docs"]
# generated at build time (gitignored): reference/ (commands, REST API), tutorials/ (copies of notebooks/)
exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints"]

myst_heading_anchors = 4  # `rules.md#messages` links, as GitHub makes them
myst_enable_extensions = ["colon_fence", "deflist"]
nb_execution_mode = "off"  # the tutorials run under nbval in CI, on a kernel with simulated GPUs
nb_merge_streams = True
suppress_warnings = ["myst.header"]  # the pages are GitHub markdown: some start below level 1 or skip one

html_theme = "pydata_sphinx_theme"
html_title = "jupyter-jobflow"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
html_last_updated_fmt = None
html_sidebars = {"**": []}  # the pages are few: the top bar lists them, and tables get the width
