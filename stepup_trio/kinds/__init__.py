"""The built-in node kinds, registered as entry points like any third-party kind."""
