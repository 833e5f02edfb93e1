"""What every tab's handlers share: the analyzer, the store, the scenarios and who is asking.

    app = AppContext(analyzer, Store(url), ScenarioCatalog(scenarios_dir()), accounts=None)
    app.learner(profile_name, request)     # the logged-in user under --auth, else the profile name
    gradio_fn = bind(practice.send_reply, app)   # a handler with ``app`` filled in, for Gradio

Handlers are plain functions whose first argument is the AppContext; ``bind`` hides that
argument from Gradio while keeping the signature and type hints Gradio reads to pass in
``gr.Request``.
"""

from __future__ import annotations

import functools
import inspect
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from coach.analysis import Analyzer
from coach.auth import Accounts
from coach.errors import UserError
from coach.scenario import SCENARIO_SUFFIXES, Scenario, check_scenario_text
from coach.store import Store, check_learner_name

DEFAULT_PROFILE = "me"


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    text: str
    scenario: Scenario


class ScenarioCatalog:
    """The valid scenarios in a folder, re-read only when a file changes (the studio saves there)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[Path, tuple[tuple[int, int], CatalogEntry | None]] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[CatalogEntry]:
        """Valid scenarios, one per id (the first file by name wins); invalid files are left out."""
        files = sorted(p for p in self.folder.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file()) if self.folder.is_dir() else []
        found: dict[str, CatalogEntry] = {}
        with self._lock:
            for path in files:
                entry = self._entry(path)
                if entry is not None and entry.scenario.id not in found:
                    found[entry.scenario.id] = entry
        return list(found.values())

    def get(self, scenario_id: str) -> CatalogEntry:
        for entry in self.entries():
            if entry.scenario.id == scenario_id:
                return entry
        raise UserError(f"There is no valid scenario '{scenario_id}' in {self.folder}.")

    def _entry(self, path: Path) -> CatalogEntry | None:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        text = path.read_text(encoding="utf-8", errors="replace")
        result = check_scenario_text(text, file=str(path))
        entry = CatalogEntry(path, text, result.scenario) if result.scenario is not None else None
        self._cache[path] = (stamp, entry)
        return entry


@dataclass
class AppContext:
    analyzer: Analyzer
    store: Store
    catalog: ScenarioCatalog
    accounts: Accounts | None = None
    downloads_root: tempfile.TemporaryDirectory = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="palvelupeili-downloads-")
    )

    @property
    def downloads(self) -> Path:
        return Path(self.downloads_root.name)

    def learner(self, profile: str | None, request: gr.Request | None) -> str:
        """Whose sessions these are: the signed-in name under --auth (the profile box is ignored)."""
        if self.accounts is not None:
            name = getattr(request, "username", None)
            if not name:
                raise UserError("Sign in first.")
            return name
        return check_learner_name(profile or DEFAULT_PROFILE)

    def role(self, request: gr.Request | None) -> str | None:
        return self.accounts.role(getattr(request, "username", None)) if self.accounts is not None else None

    def may_save_scenarios(self, request: gr.Request | None) -> bool:
        # Without --auth the app is one person's local tool, and that person may edit scenarios.
        return self.accounts is None or self.accounts.is_trainer(getattr(request, "username", None))


def bind(handler: Callable[..., Any], app: AppContext) -> Callable[..., Any]:
    """``handler`` with its first argument (the AppContext) filled in, as Gradio should see it."""

    @functools.wraps(handler)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return handler(app, *args, **kwargs)

    signature = inspect.signature(handler)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return bound
