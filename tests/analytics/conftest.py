"""Analytics fixtures: ONE `shopsense analyze` run, as a user runs it, on small generated data (many purchases
per customer); the differential, KPI, report and CLI tests read what it wrote. And a helper to point the
`purchases` view at any DataFrame."""
from __future__ import annotations

import pandas as pd
import pytest

from shopsense.config import load_config

ROWS, CUSTOMERS, SEED = 3000, 300, 11  # 10 purchases per customer: real baskets
ONE_TIME_BUYERS = 40  # plus a few customers with a single purchase, so repeat shares are not all 1


@pytest.fixture(scope="session")
def analysis_frame(processed_frame) -> pd.DataFrame:
    regulars = processed_frame(ROWS, SEED, CUSTOMERS)
    one_timers = processed_frame(ONE_TIME_BUYERS, SEED + 1, ONE_TIME_BUYERS)
    one_timers["customer_id"] += 100_000
    return pd.concat([regulars, one_timers], ignore_index=True)


@pytest.fixture(scope="session")
def analysis(spark, settings_kept, analysis_frame, tmp_path_factory):
    """(config, printed text) of `shopsense analyze` over the generated frame written as processed Parquet.
    Run in-process on the shared session: the command's parsing, output and files are the user's; a fresh
    process and JVM for it are tested by the cluster test (`run --only ingest,analyze,train`) and the other
    CLI tests, and cost about 15-20 s more here."""
    from typer.testing import CliRunner

    from shopsense.cli import app
    from shopsense.schema import PROCESSED_SCHEMA

    config = load_config(home=tmp_path_factory.mktemp("analytics_home"))
    spark.createDataFrame(analysis_frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    with settings_kept():
        out = CliRunner().invoke(app, ["--home", str(config.home), "--master", "local[2]", "analyze"])
    assert out.exit_code == 0, out.output
    return config, out.output


@pytest.fixture()
def as_purchases(spark):
    """Register a DataFrame as the `purchases` view the SQL suite reads."""
    from shopsense.analytics.queries import VIEW

    def register(df):
        df.createOrReplaceTempView(VIEW)
        return df

    return register
