"""Command-line options shared by the benchmarks."""
from __future__ import annotations

import argparse


def spark_setting(item: str) -> tuple[str, str]:
    """`KEY=VALUE` as (key, value); the value may be empty (`spark.driver.extraJavaOptions=`)."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
    return key, value


def add_conf_option(parser: argparse.ArgumentParser, example: str) -> None:
    """`--conf KEY=VALUE`, repeatable: extra Spark settings (A/B a tuning); `dict(args.conf)` holds them."""
    parser.add_argument("--conf", action="append", default=[], type=spark_setting, metavar="KEY=VALUE",
                        help=f"extra Spark setting (before/after a tuning), e.g. {example}")
