"""Users and API tokens, re-exported from :mod:`tickwork.domain.accounts`.

The records live in the domain so the storage layer can build them without importing this
package (which imports storage); existing imports from here keep working.
"""

from tickwork.domain.accounts import ApiToken, User

__all__ = ["ApiToken", "User"]
