"""Targets: what turns a compiled node into running code — the process JIT, linking, the persistent cache, AOT."""
