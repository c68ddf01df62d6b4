"""The mapping language: load and validate YAML mappings, compile them once, run them per call.

``loader`` reads and validates documents against ``schemas/``, ``compile`` turns them into the
objects of ``interpreter`` (which run per call), ``registry`` holds the loaded set and routes
model strings, ``hooks`` is the registry of named escape hatches, ``examples``/``check`` run
every mapping's examples.
"""
