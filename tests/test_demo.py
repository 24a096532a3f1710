"""`python -m numba_cfunc_compiler demo`, the package's main job, runs and computes the right values."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_command_runs_and_prints_the_expected_results(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "numba_cfunc_compiler", "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    names = re.findall(r"^compiled (\w+)\s+-> _gc_numba_[0-9a-f]{16} ", out, re.MULTILINE)
    assert names == ["ema", "crossover", "volatility", "rolling_max", "trade_gaps"]
    assert "ema(alpha=0.5) over 10, 20, 30: [10.0, 15.0, 22.5]" in out
    assert "crossover{'fast': 3.0}: {'spread': 1.0, 'signal': 1}" in out
    assert "crossover{'slow': 4.0}: {'spread': -1.0, 'signal': -1}" in out
    assert "[None, None, None, 0.011756, 0.011666]" in out
    assert "rolling_max(window=3) over [3.0, 1.0, 4.0, 1.0, 5.0, 0.5, 0.25, 0.125]: [3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 5.0, 0.5]" in out
    assert "trade_gaps(venue=1, at=+2.25s): {'gap': 2.25, 'venues': 2}" in out
    assert "trade_gaps(venue=2, at=+3.0s): {'gap': 2.5, 'venues': 2}" in out


def test_cli_without_a_command_explains_itself():
    proc = subprocess.run([sys.executable, "-m", "numba_cfunc_compiler"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "demo" in proc.stderr
