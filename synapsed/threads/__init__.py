"""Conversation threads: store.py (SQLite, one transaction per turn), rules.py (ids, one turn at
a time, caps, retention, views). Opt-in per call; calls without a thread store no text."""
