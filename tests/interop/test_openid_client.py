"""Interoperability: npm's openid-client (v6) runs the code flow against a live provider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _node_ready() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not (HERE / "node_modules" / "openid-client").is_dir():
        return "tests/interop/node_modules is missing: run scripts/setup --browser"
    return None


def test_openid_client_code_flow_refresh_and_userinfo(live_server, app, user, confidential_client):
    problem = _node_ready()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    from idp.extensions import db
    from idp.services import sessions

    session, cookie = sessions.create_session(user, amr=["pwd"], acr="urn:idp:acr:pwd")
    db.session.commit()  # the test is the boundary for what it sets up by hand
    env = dict(os.environ, IDP_ISSUER=live_server, RP_CLIENT_ID="docs",
               RP_CLIENT_SECRET=confidential_client.client_secret,
               RP_REDIRECT_URI=confidential_client.redirect_uri,
               SSO_COOKIE=f"{app.config['SSO_COOKIE_NAME']}={cookie}")
    run = subprocess.run(["node", "rp.mjs"], cwd=HERE, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["ok"] is True
    assert result["sub"] == user.sub and result["sid"] == session.sid
    assert result["refreshed"] is True and result["refreshed_id_token_sub"] == user.sub
    assert result["userinfo"]["sub"] == user.sub
    assert result["userinfo"]["email"] == "an.nguyen@example.gov.vn"
    assert result["userinfo"]["roles"] == []
