"""Client side of the ministry's single sign-on: the ``idp_client`` adapter and three demo apps."""
