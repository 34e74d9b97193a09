"""Ray actors: each chain's model state lives in one `ChainActor` on the resources given to it."""

from autophagy.actors.chain_actor import ChainActor

__all__ = ["ChainActor"]
