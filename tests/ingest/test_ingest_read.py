"""Header check and explicit-schema read: what Spark 4.3 really does with odd files."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.errors import ShopSenseError
from shopsense.ingest.stage import classified_rows, quarantined_rows
from shopsense.ingest.read import (
    CORRUPT_RECORD, SOURCE_NUMBER, check_header, detect_delimiter, missing_local_input, read_header, read_raw,
    source_file_column,
    split_header,
)

HEADER = ",".join(schema.RAW_COLUMNS)
ROW = "1,55,Male,Blouse,Clothing,53,Kentucky,L,Gray,Winter,3.1,Yes,Express,Yes,Yes,14,Venmo,Fortnightly"
FIELDS = ROW.split(",")


def write(tmp_path, text: str, name="in.csv", newline="\n", bom=False):
    path = tmp_path / name
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + data if bom else data)
    return str(path)


def read_rows(spark, path):
    return [r.asDict() for r in read_raw(spark, path, read_header(spark, path)).collect()]


# --- header check (pure) -----------------------------------------------------------------------------------
def test_split_header_strips_bom_quotes_and_whitespace():
    assert split_header('\ufeff"Customer ID" , Age,"Purchase Amount (USD)"') == [
        "Customer ID", "Age", "Purchase Amount (USD)"]


def test_extra_columns_are_ignored_and_reported():
    names = list(schema.RAW_COLUMNS[:5]) + ["Preferred Payment Method"] + list(schema.RAW_COLUMNS[5:])
    header = check_header(names)
    assert header.ignored == ("Preferred Payment Method",)
    assert header.fields[5] == "_ignored_5"
    assert [f for f in header.fields if not f.startswith("_ignored")] == list(schema.PROCESSED_COLUMNS)


def test_missing_essential_column_is_named_with_the_mapping_to_add():
    names = ["Purchase Amt" if c == "Purchase Amount (USD)" else c for c in schema.RAW_COLUMNS]
    with pytest.raises(ShopSenseError) as error:
        check_header(names)
    assert "missing required column(s) 'Purchase Amount (USD)'" in str(error.value)
    assert str(error.value).endswith('[columns]\n"Purchase Amt" = "Purchase Amount (USD)"')


def test_missing_optional_column_is_absent():
    header = check_header([c for c in schema.RAW_COLUMNS if c != "Season"])
    assert header.absent == {"season"} and header.match.missing == ("season",)


def test_headers_match_by_key_and_mapping():
    names = ["CUSTOMER-ID", "item", "category", "purchase_amount_usd_", "Rating (1-5)", "freq"]
    header = check_header(names, mapping={"freq": "frequency_of_purchases", "item": "Item Purchased"})
    # "Rating (1-5)" loses its unit and is "rating", not "review rating": an extra column
    assert header.fields == ("customer_id", "item_purchased", "category", "purchase_amount_usd", "_ignored_4",
                             "frequency_of_purchases")
    assert [m.how for m in header.match.matches[:4]] == ["normalised", "mapped", "normalised", "normalised"]
    assert header.match.matches[5].how == "mapped"


def test_mapping_hint_never_guesses_a_column_that_matched_another_field():
    names = [c for c in schema.RAW_COLUMNS if c != "Frequency of Purchases"] + ["purchase_frequency"]
    header = check_header(names)
    assert header.match.mapping_hints() == ['purchase_frequency = "Frequency of Purchases"']


def test_no_two_columns_share_a_key():
    from shopsense.ingest.columns import COLUMN_OF_KEY, _column_keys

    assert sum(len(_column_keys(c)) for c in schema.COLUMNS) >= len(COLUMN_OF_KEY)
    assert len({COLUMN_OF_KEY[k] for k in COLUMN_OF_KEY}) == len(schema.COLUMNS)
    for c in schema.COLUMNS:
        assert all(COLUMN_OF_KEY[k] == c.name for k in _column_keys(c))


def test_duplicated_column_is_an_error_naming_both():
    with pytest.raises(ShopSenseError, match="columns 'Age' and 'AGE' both match 'Age'"):
        check_header(list(schema.RAW_COLUMNS) + ["AGE"])


def test_delimiter_is_detected():
    assert [detect_delimiter(d.join(schema.RAW_COLUMNS)) for d in (",", ";", "\t", "|")] == [",", ";", "\t", "|"]
    assert detect_delimiter("Customer ID") == ","


# --- reading real files ----------------------------------------------------------------------------------
def test_too_many_and_too_few_fields_keep_the_raw_line(spark, tmp_path):
    too_many, too_few = ROW + ",surplus", ",".join(FIELDS[:-1])
    rows = read_rows(spark, write(tmp_path, f"{HEADER}\n{ROW}\n{too_many}\n{too_few}\n"))
    assert [r[CORRUPT_RECORD] for r in rows] == [None, too_many, too_few]
    # Spark 4.3 still parses what it can: the first 18 tokens / nulls for the absent ones.
    assert rows[1]["frequency_of_purchases"] == "Fortnightly"
    assert rows[2]["frequency_of_purchases"] is None and rows[2]["payment_method"] == "Venmo"


def test_pruned_columns_do_not_hide_malformed_rows(spark, tmp_path):
    # With Spark's default CSV column pruning a selection of a few columns loses the malformed flag.
    path = write(tmp_path, f"{HEADER},Extra\n{ROW},x\n{ROW}\n{ROW},x,y\n")
    df = read_raw(spark, path, read_header(spark, path)).select("age", CORRUPT_RECORD)
    assert [r[CORRUPT_RECORD] is not None for r in df.collect()] == [False, True, True]


def test_bom_crlf_quotes_and_whitespace(spark, tmp_path):
    quoted = ROW.replace(",Venmo,", ', "Bank Transfer" ,').replace(",Gray,", ",  Gray ,")
    path = write(tmp_path, f"{HEADER}\n{quoted}\n{ROW}\n", newline="\r\n", bom=True)
    rows = read_rows(spark, path)
    assert [r[CORRUPT_RECORD] for r in rows] == [None, None]
    assert rows[0]["payment_method"] == "Bank Transfer"
    assert rows[0]["color"] == "Gray"
    assert rows[1]["frequency_of_purchases"] == "Fortnightly"  # no trailing \r
    assert rows[0]["customer_id"] == "1"  # the BOM is not part of the first value or header
    assert rows[0][SOURCE_NUMBER] == 1 and read_header(spark, path).sources[0].endswith("in.csv")


def test_a_file_name_with_spaces_and_percent_signs(spark, tmp_path):
    """Spark lists input files as URIs ("my%20data.csv"): they are read back as paths, not as URIs."""
    rows = read_rows(spark, write(tmp_path, f"{HEADER}\n{ROW}\n", name="my data 100%.csv"))
    assert len(rows) == 1 and rows[0][CORRUPT_RECORD] is None


def test_header_only_file_has_no_rows(spark, tmp_path):
    assert read_rows(spark, write(tmp_path, HEADER + "\n")) == []


def test_empty_file_is_a_clear_error(spark, tmp_path):
    with pytest.raises(ShopSenseError, match="empty"):
        read_header(spark, write(tmp_path, ""))


def test_missing_local_input_is_known_without_spark(tmp_path):
    assert missing_local_input(str(tmp_path / "nope.csv"))
    assert not missing_local_input(write(tmp_path, HEADER + "\n"))
    for spark_decides in (str(tmp_path / "*.csv"), "hdfs://namenode/data/in.csv", "file:/nope.csv"):
        assert not missing_local_input(spark_decides)


def test_missing_input_is_a_clear_error(spark, tmp_path):
    with pytest.raises(ShopSenseError, match="input not found"):
        read_header(spark, str(tmp_path / "nope.csv"))


def test_folder_of_csv_files(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder, f"{HEADER}\n{ROW}\n", name="a.csv")
    write(folder, f"{HEADER}\n{ROW}\n{ROW}\n", name="b.csv", newline="\r\n")
    header = read_header(spark, str(folder))
    assert len(header.files) == 2
    assert read_raw(spark, str(folder), header).count() == 3  # each file's header line skipped


def test_each_row_is_numbered_with_its_file_as_spark_names_it(spark, tmp_path):
    """The numbers come from the header check's per-file reads; they must name the same paths that Spark's
    CSV scan of the whole folder reports (odd characters included), in sorted order."""
    folder = tmp_path / "odd name %20 é"
    folder.mkdir()
    for name, rows in (("b x.csv", 2), ("a#1.csv", 1), ("c.csv", 3)):
        write(folder, HEADER + "\n" + "\n".join([ROW] * rows) + "\n", name=name)
    header = read_header(spark, str(folder))
    assert list(header.sources) == sorted(header.sources) and len(header.sources) == 3
    numbered = read_raw(spark, str(folder), header).select(source_file_column(header.sources).alias("numbered"))
    scanned = spark.read.option("header", True).csv(str(folder)).select(F.col("_metadata.file_path").alias("numbered"))
    assert sorted(r.numbered for r in numbered.collect()) == sorted(r.numbered for r in scanned.collect())
    assert [r[SOURCE_NUMBER] for r in read_raw(spark, str(folder), header).collect()].count(None) == 0


@pytest.mark.slow  # > 10 s
def test_a_row_in_several_files_is_quarantined_once_from_the_first_file(spark, tmp_path):
    bad = ROW.replace(",55,", ",abc,")
    for name in ("b.csv", "a.csv", "c.csv"):
        write(tmp_path, f"{HEADER}\n{bad}\n", name=name)
    header = read_header(spark, str(tmp_path))
    (row,) = quarantined_rows(classified_rows(read_raw(spark, str(tmp_path), header)), header.sources).collect()
    assert row["source_file"] == header.sources[0] and row["source_file"].endswith("/a.csv")


def test_folder_with_different_headers_is_an_error(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder, f"{HEADER}\n{ROW}\n", name="a.csv")
    write(folder, f"{HEADER},Extra\n{ROW},x\n", name="b.csv")
    with pytest.raises(ShopSenseError, match="header differs"):
        read_header(spark, str(folder))


def test_columns_table_and_input_settings_in_shopsense_toml(tmp_path):
    from shopsense.config import load_config

    (tmp_path / "shopsense.toml").write_text(
        'max_quarantine_share = 0.2\ninput_encoding = "latin-1"\n[columns]\nitem = "Item Purchased"\n'
        'amount = "purchase_amount_usd"\n')
    config = load_config(home=tmp_path)
    assert config.columns == {"item": "Item Purchased", "amount": "purchase_amount_usd"}
    assert (config.max_quarantine_share, config.input_charset) == (0.2, "ISO-8859-1")
    (tmp_path / "shopsense.toml").write_text('[columns]\nitem = "Product"\n')
    with pytest.raises(ShopSenseError, match="\\[columns\\] 'item': 'Product' is not a ShopSense column"):
        load_config(home=tmp_path)
    (tmp_path / "shopsense.toml").write_text("max_quarantine_share = 1.5\n")
    with pytest.raises(ShopSenseError, match="'max_quarantine_share' must be between 0 and 1"):
        load_config(home=tmp_path)


def test_map_options_are_parsed_or_refused():
    from shopsense.ingest.columns import parse_map_options

    assert parse_map_options(["item=Item Purchased", " amount = Purchase Amount (USD) "]) == {
        "item": "Item Purchased", "amount": "Purchase Amount (USD)"}
    with pytest.raises(ShopSenseError, match="expected \"your header=ShopSense column\""):
        parse_map_options(["item"])
