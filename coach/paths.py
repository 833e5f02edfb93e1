"""Where the project's folders are, with environment overrides.

The package is installed in editable mode (see README), so the data folders that sit beside
``coach/`` in the checkout (scenarios/, models/, eval/) are found relative to it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

ENV_DATA = "PALVELUPEILI_DATA"


def shared_data_dir() -> Path:
    """The public emotion corpora (XED, GoEmotions): ../shared/data unless overridden."""
    return Path(os.environ.get(ENV_DATA) or REPO_ROOT.parent / "shared" / "data")
