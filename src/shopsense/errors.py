"""User-facing errors: the CLI prints their message in one line and exits non-zero, without a traceback."""


class ShopSenseError(Exception):
    """A mistake the user can fix (bad input, missing prerequisite); the message says how."""
