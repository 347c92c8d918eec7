"""ShopSense: retail analytics on Apache Spark, from a purchase log to insight, live KPIs and predictions."""

__version__ = "0.1.0"
