"""User-facing errors: the CLI prints their message in one line and exits non-zero, without a traceback."""


class ShopSenseError(Exception):
    """A mistake the user can fix (bad input, missing prerequisite); the message says how."""


class InvalidInput(ShopSenseError):
    """A profile, customer id or k given to the ML inference API is missing, of the wrong type or unknown."""


class ModelUnavailable(ShopSenseError):
    """A model was asked for that is not trained (yet); the message names the command that trains it."""


class NotLearnable(ShopSenseError):
    """The data cannot train this model (e.g. its label has one value): a fact about the data, said plainly."""
