"""Stream files are parsed by their header (the rules of batch ingestion): another system's layout gives the
same windows as the simulator's."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shopsense import schema
from shopsense.streaming import source

SAMPLE_CSV = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"


def sample_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(SAMPLE_CSV.read_text())))[1:]


def write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    (folder / name).write_text(text.getvalue())


def windows(spark, folder: Path):
    valid = source.valid_events(source.parse_events(source.read_batch(spark, str(folder))))
    return (valid.groupBy(F.window(source.EVENT_TIME, "1 minute").start.alias("start"))
            .agg(F.count(F.lit(1)).alias("purchases"), F.sum("purchase_amount_usd").alias("revenue"),
                 F.countDistinct("customer_id").alias("customers")))


def test_other_layout_gives_the_simulators_windows(spark, tmp_path):
    rows = sample_rows()
    seconds = [17 * i for i in range(len(rows))]  # 100 events over 28 minutes
    simulator = [[*r, f"e{i}", f"2025-01-01 10:{s // 60:02d}:{s % 60:02d}.000"]
                 for i, (r, s) in enumerate(zip(rows, seconds))]
    write(tmp_path / "simulator", "a.csv", list(source.STREAM_COLUMNS), simulator[:60])
    write(tmp_path / "simulator", "b.csv", list(source.STREAM_COLUMNS), simulator[60:])
    # Another system: a timestamp column first (ISO, with a zone), snake_case names in another order, no id.
    order = list(reversed(range(len(schema.RAW_COLUMNS))))
    header = ["timestamp", *[schema.COLUMNS[j].name for j in order]]
    other = [[f"2025-01-01T10:{s // 60:02d}:{s % 60:02d}Z", *[r[j] for j in order]] for r, s in zip(rows, seconds)]
    write(tmp_path / "other", "a.csv", header, other[:50])
    write(tmp_path / "other", "b.csv", header, other[50:])
    expected = windows(spark, tmp_path / "simulator")
    assert expected.agg(F.sum("purchases")).first()[0] == 100
    assertDataFrameEqual(windows(spark, tmp_path / "other"), expected)


def test_event_id_is_derived_from_file_and_line_when_absent(spark, tmp_path):
    rows = sample_rows()[:3]
    write(tmp_path / "in", "x.csv", ["event_time", *schema.RAW_COLUMNS],
          [["2025-01-01 10:00:00", *r] for r in rows])
    ids = [r[source.EVENT_ID] for r in source.parse_events(source.read_batch(spark, str(tmp_path / "in")))
           .orderBy(source.EVENT_ID).collect()]
    assert [i.rsplit(":", 1)[1] for i in ids] == ["2", "3", "4"] and all(i.endswith(f"x.csv:{i[-1]}") for i in ids)


def test_unreadable_files_are_said_so(spark, tmp_path):
    rows = sample_rows()[:5]
    write(tmp_path / "in", "no_time.csv", list(schema.RAW_COLUMNS), rows)  # no event time column
    write(tmp_path / "in", "mapped.csv", ["when", *schema.RAW_COLUMNS], [["2025-01-01 10:00:00", *r] for r in rows])
    message = source.unreadable_input(spark, str(tmp_path / "in"))
    assert message and "malformed_row 10" in message and "2 stream file(s)" in message
    assert source.unreadable_input(spark, str(tmp_path / "in"), mapping={"when": "event_time"}) is None


def test_quoted_and_crlf_files_parse_like_plain_ones(spark, tmp_path):
    """The plain split (lines without `"`, files without CR) and the quote-aware one give the same rows."""
    rows = [[*r, f"e{i}", "2025-01-01 10:00:00"] for i, r in enumerate(sample_rows()[:20])]
    rows[0][5] = "$1,234.50"  # a money rewrite, quoted because of its comma
    write(tmp_path / "plain", "a.csv", list(source.STREAM_COLUMNS), rows)
    quoted = "\r\n".join(",".join(f'" {v} "' for v in line) for line in [list(source.STREAM_COLUMNS), *rows])
    (tmp_path / "quoted").mkdir()
    (tmp_path / "quoted" / "a.csv").write_text(quoted + "\r\n", newline="")

    def parsed(folder):
        return source.parse_events(source.read_batch(spark, str(folder))).drop(source.FILE_PATH, source.FILE_TIME)

    plain = parsed(tmp_path / "plain")
    assert plain.where("valid").count() == 20
    assertDataFrameEqual(parsed(tmp_path / "quoted"), plain)
