"""Feature engineering shared by the models: encoding stages, labels and the customer-grouped split.

Every encoding step is a Spark ML stage inside the saved Pipeline, so that training and inference apply
exactly the same transformation to a profile.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml.base import Estimator, Transformer
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from shopsense import schema

STRING_COLUMNS: frozenset[str] = frozenset(c.name for c in schema.COLUMNS if isinstance(c.dtype, StringType))
FEATURES = "features"


def is_categorical(column: str) -> bool:
    return column in STRING_COLUMNS


def feature_stages(columns: Sequence[str], output: str = FEATURES) -> list[Estimator | Transformer]:
    """StringIndexer + OneHotEncoder for string columns, then one VectorAssembler over everything.

    handleInvalid="keep": a value never seen in training maps to an extra index that the encoder drops
    (all-zero vector) instead of failing; booleans and numbers go into the assembler as they are.
    """
    categorical = [c for c in columns if is_categorical(c)]
    numeric = [c for c in columns if not is_categorical(c)]
    stages: list[Estimator | Transformer] = []
    if categorical:
        stages.append(StringIndexer(inputCols=categorical, outputCols=[f"{c}__idx" for c in categorical],
                                    handleInvalid="keep", stringOrderType="alphabetAsc"))
        stages.append(OneHotEncoder(inputCols=[f"{c}__idx" for c in categorical],
                                    outputCols=[f"{c}__vec" for c in categorical]))
    stages.append(VectorAssembler(inputCols=numeric + [f"{c}__vec" for c in categorical], outputCol=output))
    return stages


def with_binary_label(df: DataFrame, column: str, label: str = "label") -> DataFrame:
    """A boolean target as the 0.0/1.0 double that the classifiers and evaluators expect."""
    return df.withColumn(label, F.col(column).cast("double"))


def _customer_hash(seed: int) -> Column:
    return F.xxhash64(F.col("customer_id"), F.lit(seed))


def customer_split(df: DataFrame, test_fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """(train, test) by CUSTOMER: all purchases of one customer land on the same side.

    The data has several purchases per customer with constant demographics; a row split would let a
    model recognise a test customer from their training rows (identity leakage). A hash of the id (not
    randomSplit) keeps the split identical across runs, partitionings and machines.
    """
    bucket = F.pmod(_customer_hash(seed), F.lit(10_000)) < F.lit(int(round(test_fraction * 10_000)))
    return df.where(~bucket), df.where(bucket)


def customer_folds(df: DataFrame, folds: int, seed: int, column: str = "fold") -> DataFrame:
    """A fold number per customer, for a grouped CrossValidator (`foldCol`)."""
    return df.withColumn(column, F.pmod(_customer_hash(seed + 1), F.lit(folds)).cast("int"))
