"""stepup-trio: a dynamic build tool for reproducible scientific workflows, built on trio."""

__version__ = "0.1.0"
