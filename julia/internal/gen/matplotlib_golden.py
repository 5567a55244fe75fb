#!/usr/bin/python3
"""Writes testdata/matplotlib/NAME.png: matplotlib's imsave of the counts in
testdata/matplotlib/counts.pgm (written by go test -update), one per colormap,
as the original demo coloured its fractals.

    /usr/bin/python3 internal/gen/matplotlib_golden.py   # from julia/
"""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import pathlib
import re


def colormap_names():
    """The colormaps longrun offers: the Go list in colormap.go, the one source."""
    src = (pathlib.Path(__file__).resolve().parents[2] / "colormap.go").read_text()
    block = re.search(r"var colormapNames = \[\]string\{([^}]*)\}", src).group(1)
    return re.findall(r'"([^"]+)"', block)


NAMES = colormap_names()

with open("testdata/matplotlib/counts.pgm", "rb") as f:
    assert f.readline() == b"P5\n"
    width, height = map(int, f.readline().split())
    f.readline()
    counts = np.frombuffer(f.read(), dtype=">u2").reshape(height, width).astype(np.int64)

for name in NAMES:
    plt.imsave("testdata/matplotlib/%s.png" % name, counts, cmap=name)
