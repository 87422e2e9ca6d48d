"""Cross-cutting web pieces: request sessions, error answers, health and the start page."""
