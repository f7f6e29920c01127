"""Read queries of the native API answered from a compiled plan instead of per-field resolvers.

A ``query`` whose every selection lies in a small supported subset (the account, its contacts
with identities and wallet, a wallet's credit entries) is executed by :mod:`.run` straight
from the domain models, with the schema's own scalar serializers and the request's batch
loaders. Anything else, and any request on which the plan meets an error, is executed by the
normal executor, which gives the answer (and the errors) it always gave.
"""

from patron.api.graphql.fastpath.extension import FastReads

__all__ = ["FastReads"]
