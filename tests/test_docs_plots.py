"""docs/SCHEMA.md shows a plot of every signal and every anomaly kind, and docs/plots.py
redraws exactly the committed SVGs (so they come from the generator as it is)."""

from __future__ import annotations

import functools
import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from telecrunch.anomalies import KINDS as ANOMALY_KINDS
from telecrunch.signals import SIGNALS

DOCS = Path(__file__).resolve().parent.parent / "docs"
IMG = DOCS / "img"
EXPECTED = [f"signal_{name}.svg" for name in SIGNALS] + \
    [f"anomaly_{kind}.svg" for kind in ANOMALY_KINDS]


@functools.cache
def load_plots():
    """docs/plots.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("docs_plots", DOCS / "plots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", EXPECTED)
def test_every_signal_and_anomaly_kind_has_a_plot_referenced_in_schema_md(name):
    path = IMG / name
    assert path.is_file(), f"{name} missing: run python docs/plots.py"
    root = ET.fromstring(path.read_text())  # well-formed SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    drawn = root.findall(".//{http://www.w3.org/2000/svg}polyline") + \
        root.findall(".//{http://www.w3.org/2000/svg}circle")
    if name not in ("signal_text.svg", "signal_choice.svg", "signal_template.svg"):
        assert drawn, f"{name} draws no data"
    schema_md = (DOCS / "SCHEMA.md").read_text()
    assert f"](img/{name})" in schema_md


def test_no_stray_plots():
    assert sorted(p.name for p in IMG.glob("*.svg")) == sorted(EXPECTED)


def test_plots_py_regenerates_identical_svgs(tmp_path):
    written = load_plots().render_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(EXPECTED)
    for path in written:
        assert path.read_bytes() == (IMG / path.name).read_bytes(), \
            f"{path.name} differs from docs/img: run python docs/plots.py and commit"


def test_anomaly_plots_shade_labelled_records():
    shade = load_plots().SHADE
    for kind in ANOMALY_KINDS:
        root = ET.fromstring((IMG / f"anomaly_{kind}.svg").read_text())
        rects = root.findall(".//{http://www.w3.org/2000/svg}rect")
        shaded = [r for r in rects if r.get("fill") == shade and r.get("height") != "8"]
        assert shaded, f"{kind}: no labelled records shaded"  # the legend's swatch aside
