"""Draw the example plots of docs/SCHEMA.md: one SVG per signal and one per anomaly kind.

Every plot is made from data that TeleCrunch generates (one source's series), drawn as
hand-written SVG with numpy only, so the same code and seed always give the same bytes.

    python docs/plots.py [OUT_DIR]      # default: docs/img
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from telecrunch import generate_columns, load_schema
from telecrunch.anomalies import KINDS as ANOMALY_KINDS
from telecrunch.signals import SIGNALS

SEED = 2026
WIDTH, HEIGHT = 480, 210
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 28, 40
LINE, CLEAN, SHADE = "#1f5fa8", "#9a9a9a", "#f6c98f"
START_NS = 1_767_225_600_000_000_000  # the default time.start


# ---- a tiny SVG plotter ----

def _num(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _tick(v: float) -> str:
    return f"{v:.4g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> np.ndarray:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) inside [lo, hi]."""
    if hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / (count - 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = np.ceil(lo / step) * step
    return np.arange(first, hi + step * 1e-9, step) + 0.0  # + 0.0: no "-0" label


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


@dataclass
class Plot:
    title: str
    xlabel: str
    ylabel: str
    x: np.ndarray
    lines: list[tuple[np.ndarray, str, str]] = field(default_factory=list)  # y, colour, style
    shade: np.ndarray | None = None  # bool per x: records to shade (labels)
    yticks: list[tuple[float, str]] | None = None  # fixed ticks (categories)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, text)

    def svg(self) -> str:
        ys = np.concatenate([y for y, _, _ in self.lines])
        lo, hi = float(ys.min()), float(ys.max())
        if self.yticks:
            lo = min(lo, min(v for v, _ in self.yticks))
            hi = max(hi, max(v for v, _ in self.yticks))
        pad = (hi - lo) * 0.06 or 1.0
        lo, hi = lo - pad, hi + pad
        x0, x1 = float(self.x.min()), float(self.x.max())
        if x1 == x0:
            x1 = x0 + 1
        top = TOP + 16 if self.legend else TOP
        left = max(LEFT, 16 + 6.5 * max(len(t) for _, t in self.yticks)) if self.yticks else LEFT
        w, h = WIDTH - left - RIGHT, HEIGHT - top - BOTTOM

        def px(x):
            return left + (np.asarray(x, float) - x0) / (x1 - x0) * w

        def py(y):
            return top + (hi - np.asarray(y, float)) / (hi - lo) * h

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
               f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
               f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
               f'<text x="{WIDTH / 2}" y="17" text-anchor="middle" font-size="13">'
               f'{escape(self.title)}</text>']
        if self.shade is not None:
            step = w / max(len(self.x) - 1, 1)
            for a, b in runs(self.shade):
                x_a = max(float(px(self.x[a])) - step / 2, left)
                x_b = min(max(float(px(self.x[b - 1])) + step / 2, x_a + 3), left + w)
                out.append(f'<rect x="{_num(x_a)}" y="{top}" width="{_num(x_b - x_a)}" '
                           f'height="{h}" fill="{SHADE}"/>')
        out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" '
                   'stroke="#444"/>')
        ticks = self.yticks or [(v, _tick(v)) for v in nice_ticks(lo, hi)]
        for v, text in ticks:
            y = _num(py(v))
            out.append(f'<line x1="{left - 4}" y1="{y}" x2="{left}" y2="{y}" stroke="#444"/>')
            out.append(f'<text x="{left - 6}" y="{y}" text-anchor="end" '
                       f'dominant-baseline="middle">{escape(text)}</text>')
        for v in nice_ticks(x0, x1):
            x = _num(px(v))
            out.append(f'<line x1="{x}" y1="{top + h}" x2="{x}" y2="{top + h + 4}" '
                       'stroke="#444"/>')
            out.append(f'<text x="{x}" y="{top + h + 15}" text-anchor="middle">'
                       f'{_tick(v)}</text>')
        out.append(f'<text x="{left + w / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
                   f'{escape(self.xlabel)}</text>')
        out.append(f'<text x="12" y="{top + h / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {top + h / 2})">{escape(self.ylabel)}</text>')
        for y, colour, style in self.lines:
            if style == "dots":
                out.extend(f'<circle cx="{_num(a)}" cy="{_num(b)}" r="1.6" fill="{colour}"/>'
                           for a, b in zip(px(self.x), py(y), strict=True))
                continue
            if style == "steps":
                xs, ys_ = np.repeat(self.x, 2)[1:], np.repeat(y, 2)[:-1]
            else:
                xs, ys_ = self.x, y
            points = " ".join(f"{_num(a)},{_num(b)}" for a, b in zip(px(xs), py(ys_),
                                                                    strict=True))
            dash = ' stroke-dasharray="4 3"' if colour == CLEAN else ""
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.3"{dash}/>')
        at = left
        for colour, text in self.legend:  # one row between the title and the plot
            out.append(f'<rect x="{at}" y="{top - 15}" width="12" height="8" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{at + 16}" y="{top - 11}" dominant-baseline="middle">'
                       f'{escape(text)}</text>')
            at += 28 + 6.5 * len(text)
        out.append("</svg>")
        return "\n".join(out) + "\n"


def text_table(title: str, values: list[str]) -> str:
    """A list of generated strings, for the text signals."""
    height = TOP + 18 * len(values) + 12
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="17" text-anchor="middle" font-size="13">'
           f'{escape(title)}</text>']
    for i, value in enumerate(values):
        y = TOP + 12 + 18 * i
        out.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" fill="#666">{i}</text>')
        out.append(f'<text x="{LEFT + 4}" y="{y}" font-family="monospace" fill="{LINE}">'
                   f'{escape(repr(value))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- data ----

def schema(fields: dict, *, sources: int = 1, interval: str = "1s", anomalies=None):
    doc = {"name": "example", "sources": {"count": sources},
           "time": {"interval": interval, "resolution": "1ms", "bits": 40},
           "kinds": {"update": {"fields": fields}}}
    if anomalies:
        doc["anomalies"] = anomalies
    return load_schema(doc)


def series(fields: dict, name: str, records: int, **kw) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since start, values) of source 0's first ``records`` records."""
    columns = generate_columns(schema(fields, **kw), SEED, 0, records)
    return (columns["ts"] - START_NS) / 1e9, columns[name]


def _float(lo, hi, res, signal, **extra) -> dict:
    return {"type": "float", "min": lo, "max": hi, "resolution": res, "signal": signal, **extra}


NUMERIC_SIGNALS = {
    # name: (field, records, x axis, style, title)
    "constant": (_float(0, 100, 0.1, {"kind": "constant", "value": 42.0}), 200, "record",
                 "line", "constant: value 42"),
    "uniform": (_float(0, 10, 0.01, {"kind": "uniform", "min": 2.0, "max": 8.0}), 300, "record",
                "dots", "uniform: min 2, max 8"),
    "normal": (_float(-20, 60, 0.01, {"kind": "normal", "mean": 20.0, "std": 3.0}), 300,
               "record", "dots", "normal: mean 20, std 3"),
    "lognormal": (_float(0, 100, 0.01, {"kind": "lognormal", "mu": 1.0, "sigma": 0.5}), 300,
                  "record", "dots", "lognormal: mu 1, sigma 0.5"),
    "sequence": ({"type": "int", "min": 0, "max": 99,
                  "signal": {"kind": "sequence", "start": 10, "step": 3}}, 200, "record",
                 "line", "sequence: start 10, step 3, field max 99 (wraps)"),
    "counter": ({"type": "int", "min": 0, "max": 999,
                 "signal": {"kind": "counter", "rate": 7.5}}, 300, "record", "line",
                "counter: rate 7.5 per record, field max 999 (wraps)"),
    "random_walk": (_float(0, 100, 0.01, {"kind": "random_walk", "step": 0.8,
                                          "reversion": 0.01, "mean": 50.0, "start": 40.0,
                                          "min": 30.0, "max": 70.0}), 500, "record", "line",
                    "random_walk: step 0.8, reversion 0.01, bounds 30..70"),
    "sine": (_float(-50, 50, 0.01, {"kind": "sine", "period": "60s", "amplitude": 10.0,
                                    "offset": 5.0, "noise": 0.7}), 300, "seconds", "line",
             "sine: period 60s, amplitude 10, offset 5, noise 0.7"),
    "seasonal": (_float(-40, 60, 0.01, {"kind": "seasonal", "offset": 15.0, "trend": 1.5,
                                        "daily": 6.0, "daily_phase": -0.125,
                                        "noise": 0.4}), 7 * 72, "days", "line",
                 "seasonal: daily 6, trend 1.5/day, noise 0.4 (every 20 min)"),
    "regime": (_float(900, 1100, 0.1, {"kind": "regime", "levels": [995, 1005, 1013, 1021],
                                       "mean_duration": 60, "noise": 0.4}), 500, "record",
               "line", "regime: 4 levels, mean duration 60 records"),
}


def numeric_plot(name: str) -> str:
    spec, records, axis, style, title = NUMERIC_SIGNALS[name]
    interval = "20m" if axis == "days" else "1s"
    seconds, v = series({"v": spec}, "v", records, interval=interval)
    x = {"record": np.arange(records), "seconds": seconds, "days": seconds / 86400}[axis]
    xlabel = {"record": "record of source 0", "seconds": "time (s)", "days": "time (days)"}[axis]
    return Plot(title, xlabel, "value", x, [(v.astype(float), LINE, style)]).svg()


def discrete_plot(name: str) -> str:
    if name == "bernoulli":
        _, v = series({"b": {"type": "bool", "signal": {"kind": "bernoulli", "p": 0.2}}}, "b",
                      120)
        ticks, title = [(0.0, "false"), (1.0, "true")], "bernoulli: p 0.2"
    else:
        values = ["ok", "degraded", "fault", "maintenance"]
        _, v = series({"s": {"type": "enum", "values": values,
                             "signal": {"kind": "categorical", "weights": [80, 12, 5, 3]}}},
                      "s", 120)
        ticks = [(float(i), label) for i, label in enumerate(values)]
        title = "categorical: weights 80, 12, 5, 3"
    return Plot(title, "record of source 0", "", np.arange(len(v)),
                [(v.astype(float), LINE, "steps")], yticks=ticks).svg()


def derived_plot() -> str:
    fields = {"celsius": _float(-40, 125, 0.01, {"kind": "sine", "period": "120s",
                                                 "amplitude": 8.0, "offset": 20.0,
                                                 "noise": 0.3}),
              "fahrenheit": _float(-40, 260, 0.01, {"kind": "derived",
                                                    "expr": "celsius * 1.8 + 32"})}
    columns = generate_columns(schema(fields), SEED, 0, 300)
    x = np.arange(300)
    return Plot("derived: fahrenheit = celsius * 1.8 + 32", "record of source 0", "value", x,
                [(columns["celsius"], CLEAN, "line"), (columns["fahrenheit"], LINE, "line")],
                legend=[(LINE, "fahrenheit (derived)"), (CLEAN, "celsius")]).svg()


def strings_plot(name: str) -> str:
    if name == "text":
        fields = {"s": {"type": "string", "min_length": 4, "max_length": 16,
                        "alphabet": "alnum", "signal": {"kind": "text"}}}
        title = "text: 4..16 characters of alnum"
    elif name == "choice":
        fields = {"s": {"type": "string", "values": ["4.2.1", "4.3.0", "5.0.0-beta"],
                        "weights": [7, 2, 1], "signal": {"kind": "choice"}}}
        title = "choice: values 4.2.1, 4.3.0, 5.0.0-beta, weights 7, 2, 1"
    else:
        fields = {"code": {"type": "enum", "values": ["overheat", "reboot", "low_battery"]},
                  "temp": _float(-40, 125, 0.1, {"kind": "normal", "mean": 40.0, "std": 8.0}),
                  "s": {"type": "string", "max_length": 48, "signal": {
                      "kind": "template", "text": "device {source}: {code} at {temp} C"}}}
        title = 'template: "device {source}: {code} at {temp} C"'
    columns = generate_columns(schema(fields, sources=5), SEED, 0, 8)
    return text_table(title, [v.decode("ascii") for v in columns["s"]])


def signal_svg(name: str) -> str:
    if name in NUMERIC_SIGNALS:
        return numeric_plot(name)
    if name in ("bernoulli", "categorical"):
        return discrete_plot(name)
    if name == "derived":
        return derived_plot()
    return strings_plot(name)


WALK = _float(-100, 100, 0.01, {"kind": "random_walk", "step": 0.3, "start": 20.0,
                                "min": 10.0, "max": 30.0})
SINE = _float(-100, 100, 0.01, {"kind": "sine", "period": "40s", "amplitude": 8.0,
                                "offset": 20.0})
ANOMALY_EXAMPLES = {
    # kind: (spec, field plotted, title)
    "spike": ({"kind": "spike", "fields": ["v"], "rate": 0.01, "magnitude": [4, 8]},
              "spike: magnitude 4..8"),
    "dip": ({"kind": "dip", "fields": ["v"], "rate": 0.01, "magnitude": [4, 8]},
            "dip: magnitude 4..8"),
    "level_shift": ({"kind": "level_shift", "fields": ["v"], "rate": 0.004,
                     "duration": [30, 60], "magnitude": 6}, "level_shift: 6 for 30..60 records"),
    "drift": ({"kind": "drift", "fields": ["v"], "rate": 0.003, "duration": [60, 120],
               "magnitude": 8, "direction": "down"}, "drift: down to 8 over 60..120 records"),
    "variance": ({"kind": "variance", "fields": ["v"], "rate": 0.004, "duration": [30, 60],
                  "magnitude": 2}, "variance: noise of std 2 for 30..60 records"),
    "stuck": ({"kind": "stuck", "fields": ["v"], "rate": 0.004, "duration": [30, 60]},
              "stuck: frozen for 30..60 records"),
    "out_of_range": ({"kind": "out_of_range", "fields": ["v"], "rate": 0.01,
                      "duration": [1, 3]}, "out_of_range: pegged at the field's max (100)"),
    "saturation": ({"kind": "saturation", "fields": ["v"], "rate": 0.004, "duration": [20, 40],
                    "level": 28}, "saturation: pinned at level 28 for 20..40 records"),
    "frequency": ({"kind": "frequency", "fields": ["v"], "rate": 0.004, "duration": [40, 80],
                   "magnitude": 3}, "frequency: the sine 3x faster for 40..80 records"),
    "late": ({"kind": "late", "rate": 0.01, "delay": "20s"},
             "late: timestamps up to 20 s behind (out of order)"),
    "dropout": ({"kind": "dropout", "rate": 0.002, "duration": [10, 20]},
                "dropout: 10..20 records missing, then catch-up"),
}


def anomaly_svg(kind: str) -> str:
    spec, title = ANOMALY_EXAMPLES[kind]
    sources, records = 16, 300
    fields = {"v": SINE if kind == "frequency" else WALK}
    clean = generate_columns(schema(fields, sources=sources), SEED, 0, sources * records)
    made = generate_columns(schema(fields, sources=sources, anomalies=[spec]), SEED, 0,
                            sources * records)
    labels = (made.labels != 0).reshape(records, sources)
    # the source with the most labelled records where their effect has room to show
    room = slice(records // 10, records // 2 if kind == "dropout" else records * 4 // 5)
    source = int(np.argmax(labels[room].sum(axis=0)))
    shade = labels[:, source]
    x = np.arange(records)
    if kind in ("late", "dropout"):
        schedule = START_NS + x * 1_000_000_000 + source * 1_000_000_000 // sources
        lines = [((clean["ts"].reshape(records, sources)[:, source] - schedule) / 1e9, CLEAN,
                  "line"),
                 ((made["ts"].reshape(records, sources)[:, source] - schedule) / 1e9, LINE,
                  "line")]
        ylabel = "timestamp - schedule (s)"
    else:
        lines = [(clean["v"].reshape(records, sources)[:, source], CLEAN, "line"),
                 (made["v"].reshape(records, sources)[:, source], LINE, "line")]
        ylabel = "value"
    legend = [(LINE, "with the anomaly"), (CLEAN, "without"), (SHADE, "labelled records")]
    return Plot(title, f"record of source {source}", ylabel, x, lines, shade=shade,
                legend=legend).svg()


def render_all(out: Path) -> list[Path]:
    """Write every example SVG into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SIGNALS:
        path = out / f"signal_{name}.svg"
        path.write_text(signal_svg(name))
        written.append(path)
    for kind in ANOMALY_KINDS:
        path = out / f"anomaly_{kind}.svg"
        path.write_text(anomaly_svg(kind))
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "img"
    for written in render_all(target):
        print(written)
