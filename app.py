"""Palvelupeili in the browser: ``python app.py`` (the same app as ``coach app``, default settings).

Loads the real model at import, as Gradio's reload mode (``gradio app.py``) expects a module-level
``demo``. For a database, accounts or another port use ``coach app --help``.
"""

from coach.ui.app import build_demo, launch_options

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_options())
