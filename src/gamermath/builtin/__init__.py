"""Built-in plugins, registered through the same `gmr` entry points a third party uses."""
