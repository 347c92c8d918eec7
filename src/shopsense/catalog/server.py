"""`shopsense serve-sql`: Spark's Thrift JDBC/ODBC server (HiveThriftServer2, shipped in the pyspark wheel)
over the catalog, for beeline, BI tools (JDBC), PyHive and dbt-spark.

The server runs in this process's SparkSession (`startWithContext`): every JDBC connection gets its own
session over the same in-memory catalog, which a loop here keeps in step with the outputs' snapshot
pointers every `sql_refresh_seconds` (shopsense.catalog.tables).
"""
from __future__ import annotations

import ipaddress
import signal
import socket
import threading
import time
from typing import Callable

from shopsense.catalog.query import catalog_session
from shopsense.catalog.tables import DATABASE
from shopsense.config import Config
from shopsense.errors import ShopSenseError

AUTH_SETTING = "hive.server2.authentication"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def jdbc_url(host: str, port: int) -> str:
    return f"jdbc:hive2://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/{DATABASE}"


def check_bind(host: str, port: int, allow_remote: bool, config: Config) -> str | None:
    """Refuse what cannot or should not be served, before starting Spark; return a warning to print."""
    if not is_loopback(host) and not allow_remote:
        raise ShopSenseError(f"--host {host} would let other machines query every table: add --allow-remote "
                             "to mean it (see docs/sql.md for authentication)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ShopSenseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    auth = config.spark.extra.get(AUTH_SETTING, config.spark.extra.get(f"spark.hadoop.{AUTH_SETTING}", "NONE"))
    if not is_loopback(host) and auth.upper() in ("NONE", "NOSASL"):
        return (f"warning: the SQL endpoint on {host}:{port} has no authentication: anyone who can reach it can "
                f"read every table (set {AUTH_SETTING} in [spark.extra], docs/sql.md)")
    return None


def serve(config: Config, host: str, port: int, allow_remote: bool = False,
          echo: Callable[[str], None] = print, stop: threading.Event | None = None) -> None:
    """Serve the catalog until Ctrl-C, SIGTERM or `stop` is set."""
    warning = check_bind(host, port, allow_remote, config)
    if warning:
        echo(warning)
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    spark, catalog = catalog_session(config)
    for key, value in {"hive.server2.thrift.bind.host": host, "hive.server2.thrift.port": str(port),
                       "hive.server2.transport.mode": "binary"}.items():
        spark.conf.set(key, value)
    jvm = spark.sparkContext._jvm
    # The server's own Hive session state boots an in-memory Derby, whose log would land in the working directory.
    jvm.java.lang.System.setProperty("derby.stream.error.file", str(config.home / "logs" / "derby.log"))
    server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext())
    try:
        echo(f"serving {len(catalog.registered)} tables of database '{DATABASE}' "
             f"({', '.join(sorted(catalog.registered)) or 'none yet'})")
        echo(f"JDBC URL: {jdbc_url(host, port)}   (beeline -u '{jdbc_url(host, port)}'; Ctrl-C to stop)")
        while not stop.wait(config.sql_refresh_seconds):
            try:
                changed = catalog.sync()
            except Exception as exc:  # e.g. a data root briefly unreachable: keep serving what is registered
                echo(f"warning: could not refresh the tables: {str(exc).splitlines()[0]}")
                continue
            if changed:
                echo(f"{time.strftime('%H:%M:%S')} refreshed: {', '.join(changed)}")
    finally:
        restore()
        server.stop()
        spark.stop()
        echo("stopped cleanly")


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM set `stop`; returns a function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]
