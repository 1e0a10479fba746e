"""The provider's logic. Services take plain arguments, never Flask request objects."""
