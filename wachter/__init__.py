"""The composition root: configuration, the ``wachter`` CLI and process wiring."""
