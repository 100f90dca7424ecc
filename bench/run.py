"""`make bench`: run every benchmark module in bench/ (each has a main()) and print results.

Each benchmark runs its own baseline in the same run and prints the ratio; record the
figures and the machine in bench/README.md.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench modules import bench/common.py


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main(selected: list[str]) -> int:
    print(f"machine: {machine()}")
    modules = sorted(p for p in HERE.glob("*.py") if p.name not in {"run.py", "__init__.py"})
    for path in modules:
        if selected and path.stem not in selected:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "main"):
            continue
        print(f"\n== {path.stem}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
