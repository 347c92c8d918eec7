"""analyze's cache is partitioned by customer, sized to the data, and per-customer work reuses it."""
from __future__ import annotations

import re

from shopsense.analytics import eda
from shopsense.analytics.stage import load_purchases
from shopsense.analytics.queries import VIEW


def final_plan(df) -> str:
    """The physical plan that really ran (AQE's final plan, not the initial one it also prints)."""
    df.collect()
    plan = df._jdf.queryExecution().executedPlan()
    return (plan.executedPlan() if plan.nodeName() == "AdaptiveSparkPlan" else plan).toString()


def test_cache_is_partitioned_by_customer_and_sized_to_the_data(spark, config, processed_df):
    processed_df(2000, seed=3).write.parquet(str(config.processed_dir))
    for rows_per_partition, expected in ((500, 4), (100_000, config.spark.shuffle_partitions)):
        purchases = load_purchases(spark, config.with_overrides(analyze_rows_per_partition=rows_per_partition))
        try:
            assert purchases.rdd.getNumPartitions() == expected
            # every customer's rows sit in one partition
            spread = purchases.selectExpr("customer_id", "spark_partition_id() AS part").distinct()
            assert spread.groupBy("customer_id").count().where("count > 1").count() == 0
        finally:
            purchases.unpersist()


def test_profile_groups_per_customer_without_a_shuffle(spark, config, processed_df):
    processed_df(2000, seed=3).write.parquet(str(config.processed_dir))
    purchases = load_purchases(spark, config)
    partitions = purchases.rdd.getNumPartitions()
    try:
        plan = final_plan(spark.sql(eda.profile_sql(VIEW)))
    finally:
        purchases.unpersist()
    exchanges = re.findall(r"Exchange (\w+)\(([^)]*)\)", plan)
    keys = [(kind, re.sub(r"#\d+L?", "", args)) for kind, args in exchanges]  # drop ids: customer_id#18L
    # The (dimension, value, customer) level reuses the cache's partitioning: only the small per-value
    # aggregation and the final ORDER BY shuffle (and the cache's own repartition, shown inside it).
    assert not [k for k in keys if k[0] == "hashpartitioning" and "dimension" in k[1] and "customer_id" in k[1]]
    assert ("hashpartitioning", f"customer_id, {partitions}") in keys
    assert any(kind == "hashpartitioning" and args.startswith("dimension_number, value,") for kind, args in keys)
