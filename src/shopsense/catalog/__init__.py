"""The SQL layer: the outputs as tables of the `shopsense` database, `shopsense sql` and `serve-sql`."""
