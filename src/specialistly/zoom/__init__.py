"""Zoom's HTTP, and nothing of ours: OAuth, the Users and Meetings API, typed errors."""
