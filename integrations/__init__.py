"""Adapters to the world outside the domain: the job queue, letters, mail and municipal systems.

May import `schulden` (the domain); the domain never imports this package. The app factory wires it in.
"""
