"""The Palvelupeili browser app (Gradio): practice, progress and the scenario studio.

    from coach.ui.app import build_demo, launch_options
    demo = build_demo(analyzer)            # or a factory; the real model when left out
    demo.launch(**launch_options())

Importing this package switches Gradio's usage analytics off before gradio itself is imported:
the app promises that nothing leaves the machine.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
