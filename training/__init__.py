"""Training side of hppnet-plugin (installed as ``hppnet_plugin.training``).

Run ``python -m hppnet_plugin.training --help``. Imports the runtime; the runtime
never imports this package.
"""
