"""Benchmark: validate + compile a definition set, against bare YAML parsing of the same files.

Prints figures for the bundled default set and for a synthetic set with 100 states and 1,000
fields; the last line is the ratio of validate+compile time to bare C-loader parsing time for
the default set, measured in the same run.

Run: .venv/bin/python bench/compile_bench.py
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from qmsflow.engine.loader import load

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "definitions" / "default"


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """Median and minimum wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def bare_parse(folder: Path) -> None:
    for path in sorted(folder.rglob("*.yaml")):
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def synthetic_set(target: Path, states: int = 100, fields: int = 1000) -> Path:
    """The default set plus one process with ``states`` states and ``fields`` fields."""
    shutil.copytree(DEFAULT, target)
    lines = [
        "kind: process", "id: synthetic", "label: {zh-CN: 合成流程, en: Synthetic}",
        'case_number: {format: "SY-{year}-{seq:05}"}',
        "priorities: [{id: high, label: {zh-CN: 高, en: High}}, "
        "{id: low, label: {zh-CN: 低, en: Low}}]", "fields:",
    ]
    for i in range(fields):
        kind = ("text", "integer", "money", "date", "yes_no")[i % 5]
        lines.append(f"  - {{id: f{i}, type: {kind}, label: {{zh-CN: 字段{i}, en: Field {i}}}"
                     + (", required: \"f0 != none\"" if i % 7 == 0 and i else "") + "}")
    lines.append("states:")
    for i in range(states):
        final = ", final: true" if i == states - 1 else ""
        lines.append(f"  - {{id: s{i}, label: {{zh-CN: 状态{i}, en: State {i}}}, "
                     f"owner: quality{final}}}")
    lines += ["start:", "  - {id: open, to: s0, roles: [sales], inputs: [f0, f1, f2]}",
              "transitions:"]
    per_step = fields // states
    for i in range(states - 1):
        inputs = ", ".join(f"f{j}" for j in range(i * per_step, (i + 1) * per_step))
        lines.append(f"  - {{id: t{i}, from: [s{i}], to: s{i + 1}, roles: [quality], "
                     f"if: \"f{i} != none or state == 's{i}'\", inputs: [{inputs}]}}")
    (target / "processes" / "synthetic.yaml").write_text("\n".join(lines) + "\n",
                                                         encoding="utf-8")
    return target


def main() -> None:
    cold_started = time.perf_counter()
    definition = load(DEFAULT)
    cold = time.perf_counter() - cold_started
    parse_median, _ = best_of(30, lambda: bare_parse(DEFAULT))
    load_median, load_min = best_of(30, lambda: load(DEFAULT))
    files = len(list(DEFAULT.rglob("*.yaml")))
    print(f"default set: {files} files, {len(definition.processes)} processes, "
          f"version {definition.version[:12]}")
    print(f"  first load (schemas compiled, caches cold): {cold * 1000:8.1f} ms")
    print(f"  validate+compile, median of 30:             {load_median * 1000:8.1f} ms "
          f"(min {load_min * 1000:.1f} ms)")
    print(f"  bare PyYAML CSafeLoader parse, median of 30: {parse_median * 1000:8.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_set(Path(tmp) / "synthetic")
        synthetic = load(folder).processes["synthetic"]
        big_median, _ = best_of(5, lambda: load(folder))
        big_parse, _ = best_of(5, lambda: bare_parse(folder))
    print(f"synthetic set: {len(synthetic.states)} states, {len(synthetic.fields)} fields")
    print(f"  validate+compile, median of 5:              {big_median * 1000:8.1f} ms "
          f"(target < 3000 ms)")
    print(f"  bare PyYAML CSafeLoader parse, median of 5:  {big_parse * 1000:8.1f} ms")
    print(f"ratio validate+compile / bare parse (default set): {load_median / parse_median:.1f}")


if __name__ == "__main__":
    main()
