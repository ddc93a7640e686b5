"""Domain errors shared by services, the admin and the API."""


class InvalidTransition(Exception):
    """A state change that the row's current state does not allow.

    The API answers it with 409 and the message; the admin shows the message.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
