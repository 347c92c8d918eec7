"""Reading and writing at the edges: data outputs (URIs, through Hadoop's FileSystem API) and local reports.

Folder outputs (processed data, quarantine, query results, precomputed recommendations) are snapshots:
Spark writes a new folder `<output>/_snapshots/<id>/`, then the small pointer `<output>/_current.json` is
replaced in one step. Readers (and the SQL catalog, shopsense.catalog) follow the pointer, so they see the
previous complete snapshot or the new complete one, never a half-written folder. Nothing is renamed but the
pointer, so this holds on object stores too (where a folder rename is a copy): there a single PUT replaces
the pointer atomically. The snapshot before the current one is kept, so a query that started on it still
finishes. Single files on the data root (model cards, popularity lists) are replaced in one step the same way.

Local files (JSON, CSV, PNG, HTML reports) are written next to their target and renamed over it.
"""
from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from shopsense.config import Config
from shopsense.errors import ShopSenseError

SNAPSHOTS = "_snapshots"
POINTER = "_current.json"
# Where a file becomes visible whole when its writer closes it (one PUT), and a rename is a copy.
OBJECT_STORE_SCHEMES = frozenset({"s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "cosn", "obs"})


# --- Hadoop FileSystem API (the JVM's, so every Hadoop-compatible URI works) ------------------------------
def hadoop_path(spark, uri: str):
    """(FileSystem, Path) of a URI through the session's Hadoop configuration (local, HDFS, object stores)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if fs.getUri().getScheme() == "file":
        fs = fs.getRawFileSystem()  # no .crc side files: a rename then replaces one file, atomically
    return fs, path


def list_names(spark, uri: str) -> list[str]:
    """Names of the entries of folder `uri` (empty when it does not exist)."""
    fs, path = hadoop_path(spark, uri)
    if not fs.exists(path):
        return []
    return sorted(status.getPath().getName() for status in fs.listStatus(path))


def make_dirs(spark, uri: str) -> None:
    fs, path = hadoop_path(spark, uri)
    fs.mkdirs(path)


def delete(spark, uri: str) -> None:
    fs, path = hadoop_path(spark, uri)
    fs.delete(path, True)


def read_text(spark, uri: str) -> str | None:
    """The file's text, or None when it does not exist."""
    fs, path = hadoop_path(spark, uri)
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        return spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def write_text_atomic(spark, uri: str, text: str) -> None:
    """Replace the file at `uri` in one step: readers see the old text or the new, never a part."""
    fs, path = hadoop_path(spark, uri)
    data = bytearray(text.encode("utf-8"))
    if fs.getUri().getScheme() in OBJECT_STORE_SCHEMES:
        _write(fs, path, data)  # the object appears (or is replaced) whole when the stream closes
        return
    tmp = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path.getParent(), f".{path.getName()}.{uuid.uuid4().hex[:12]}.tmp")
    _write(fs, tmp, data)
    try:
        if fs.getUri().getScheme() == "file":
            renamed = fs.rename(tmp, path)  # rename(2): replaces the target atomically
        else:  # HDFS and others: the NameNode's rename with OVERWRITE is atomic
            jvm = spark.sparkContext._jvm
            context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                path.toUri(), spark.sparkContext._jsc.hadoopConfiguration())
            overwrite = spark.sparkContext._gateway.new_array(jvm.org.apache.hadoop.fs.Options.Rename, 1)
            overwrite[0] = jvm.org.apache.hadoop.fs.Options.Rename.OVERWRITE
            context.rename(tmp, path, overwrite)
            renamed = True
        if not renamed:
            raise OSError(f"could not replace {uri}")
    finally:
        fs.delete(tmp, False)


def read_json(spark, uri: str) -> Any:
    """The data of JSON file `uri`, or None when it does not exist (ValueError when it is not JSON)."""
    text = read_text(spark, uri)
    return None if text is None else json.loads(text)


def write_json_atomic(spark, uri: str, data: Any) -> None:
    """JSON file `uri` (pretty, sorted keys, as `write_json`), replaced in one step."""
    write_text_atomic(spark, uri, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _write(fs, path, data: bytearray) -> None:
    out = fs.create(path, True)
    try:
        out.write(data)
    finally:
        out.close()


# --- folder outputs: snapshots and their pointer ---------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    output: str  # the output's URI (what config names, e.g. config.processed_dir)
    id: str

    @property
    def location(self) -> str:
        return f"{self.output}/{SNAPSHOTS}/{self.id}"


def new_snapshot(output: str) -> Snapshot:
    """A new snapshot of `output`; ids sort by creation time."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return Snapshot(output, f"{stamp}-{uuid.uuid4().hex[:8]}")


def stage_parquet(df, output: str) -> Snapshot:
    """Write `df` as Parquet into a new snapshot of `output` (not visible until committed)."""
    snapshot = new_snapshot(output)
    try:
        df.write.mode("errorifexists").parquet(snapshot.location)
    except BaseException:
        delete(df.sparkSession, snapshot.location)
        raise
    return snapshot


def current_snapshot_id(spark, output: str) -> str | None:
    text = read_text(spark, f"{output}/{POINTER}")
    return json.loads(text)["snapshot"] if text else None


def commit(spark, snapshot: Snapshot) -> Snapshot:
    """Make `snapshot` the output's current one (replace the pointer), then delete the snapshots before the
    previous one (the previous stays for queries still reading it; newer ones may be another run's, in progress)."""
    previous = current_snapshot_id(spark, snapshot.output)
    write_text_atomic(spark, f"{snapshot.output}/{POINTER}", json.dumps({
        "snapshot": snapshot.id, "location": snapshot.location,
        "committed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}) + "\n")
    keep_from = min(filter(None, (previous, snapshot.id)))
    for name in list_names(spark, f"{snapshot.output}/{SNAPSHOTS}"):
        if name < keep_from:
            delete(spark, f"{snapshot.output}/{SNAPSHOTS}/{name}")
    return snapshot


@contextmanager
def staged_outputs(spark) -> Iterator[list[Snapshot]]:
    """Collect staged snapshots; commit them all only if the block succeeds, else delete them."""
    staged: list[Snapshot] = []
    try:
        yield staged
    except BaseException:
        for snapshot in staged:
            delete(spark, snapshot.location)
        raise
    for snapshot in staged:
        commit(spark, snapshot)


def write_parquet(df, output: str) -> Snapshot:
    """Replace folder output `output` by `df` (Parquet), atomically for its readers."""
    return commit(df.sparkSession, stage_parquet(df, output))


def current_location(spark, output: str) -> str | None:
    """Where the output's current data is: its committed snapshot; the folder itself when Parquet files were
    put there directly (by Spark, without a snapshot); None when there is no data."""
    text = read_text(spark, f"{output}/{POINTER}")
    if text:
        return json.loads(text)["location"]
    if any(name.endswith(".parquet") or name == "_SUCCESS" or "=" in name for name in list_names(spark, output)):
        return output
    return None


def is_local(uri: str) -> bool:
    """True when `uri` is a path of this machine (a plain path or file: URI)."""
    return urlparse(uri).scheme in ("", "file")


def local_current_folder(output: str) -> Path | None:
    """The current data folder of a local folder output, read without Spark (the pointer is a local file);
    None when it holds no data yet or is not on this machine's disk."""
    if not is_local(output):
        return None
    folder = Path(urlparse(output).path)
    if (folder / POINTER).is_file():
        return Path(urlparse(json.loads((folder / POINTER).read_text())["location"]).path)
    return folder if any(folder.glob("*.parquet")) else None


def require_processed(config: Config) -> str:
    """The processed data's output URI, or ShopSenseError when `shopsense ingest` has not run. A local
    output is checked before starting Spark, so the user gets the message at once; others by read_processed."""
    output = config.processed_dir
    if is_local(output) and local_current_folder(output) is None and not Path(urlparse(output).path, "_SUCCESS").exists():
        raise ShopSenseError(f"no processed data in {output}: run `shopsense ingest` first")
    return output


def read_processed(spark, config: Config):
    """The clean purchase log written by `shopsense ingest` (Parquet, processed schema)."""
    location = current_location(spark, require_processed(config))
    if location is None:
        raise ShopSenseError(f"no processed data in {config.processed_dir}: run `shopsense ingest` first")
    return spark.read.parquet(location)


# --- local files (reports) ------------------------------------------------------------------------------
@contextmanager
def local_output(path: Path) -> Iterator[Path]:
    """A temporary path next to `path` to write to; it replaces `path` when the block succeeds (a rename:
    readers never see a partial file) and is removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(data: Any, path: Path) -> Path:
    """Write JSON atomically, pretty and stable (sorted keys)."""
    with local_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def write_text(text: str, path: Path) -> Path:
    with local_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
