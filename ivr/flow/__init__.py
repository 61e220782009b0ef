"""The IVR flow: ``ivr.yaml`` models and checks, and the engine that runs them on calls.

Kept import-light on purpose (the config loader imports ``ivr.flow.models``): import the
engine from ``ivr.flow.engine``.
"""
