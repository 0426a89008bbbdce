"""From a derivation to running NumPy code: the printer, the on-disk cache, the runtime.

Nothing is imported here, so `from derive.compile import runtime` never imports SymPy.
"""
