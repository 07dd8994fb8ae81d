"""Reference benchmark (same as ``telecrunch bench``): records/s and MB/s of TeleCrunch end to
end and in-process, next to numpy, a naive Python packer and Faker, with ratios.

    python benchmarks/bench_generate.py [--records N] [--repeats R] [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse

from telecrunch.bench import run_bench

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None,
                        help="folder for the datasets (default: the system temp folder)")
    parser.add_argument("--quick", action="store_true", help="small sizes, two repeats")
    args = parser.parse_args()
    run_bench(args.records, args.repeats, args.out, args.quick)
