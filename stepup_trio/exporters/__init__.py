"""The built-in graph exporters, registered as entry points like any third-party exporter."""
