"""Conversions between :class:`hppnet_plugin.Note` lists and other tools' formats.

Each module pairs ``notes_to_X`` with ``X_to_notes`` (lossless up to MIDI tick
resolution). Optional libraries are imported inside the functions.
"""
