"""Integrations with third-party engines, each written only with the public extension API.

Importing this package imports nothing: each integration is a subpackage that imports its engine
when it is itself imported (``numba_cfunc_compiler.contrib.csp`` imports csp).
"""
