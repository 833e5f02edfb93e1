"""Tests that drive the app in a real browser (Debian chromium); marked ``e2e``."""
