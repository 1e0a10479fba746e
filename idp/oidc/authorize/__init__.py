"""The authorization endpoint: validation checks, interaction steps, responses."""

from .views import bp

__all__ = ["bp"]
