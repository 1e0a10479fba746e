"""Values the whole suite agrees on."""

TEST_DATA_KEY = "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o="
PASSWORD = "Sông Hồng chảy mãi 2026"

# A session that passed the second factor (what the admin console requires).
MFA = {"amr": ("pwd", "otp"), "acr": "urn:idp:acr:mfa"}
ROLES = ("admin", "client-admin", "helpdesk", "auditor")
