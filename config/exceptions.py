"""Domain errors shared by services, the admin and the API."""


class InvalidTransition(Exception):
    """A state change that the row's current state does not allow.

    The API answers it with 409 and the message; the admin shows the message.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EditConflict(InvalidTransition):
    """An edit of a row whose state changed after the editor read it (the
    engine took the post meanwhile, say): nothing was written. The API answers
    409 with code `conflict`; the admin shows it as a form error."""
