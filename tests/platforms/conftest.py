# Staff users and their logged-in clients, as the admin tests have them.
from tests.admin.conftest import (  # noqa: F401
    administrator,
    administrator_client,
    analyst,
    analyst_client,
)
