"""Single logout. This package holds the logout pages' translation catalogue."""
