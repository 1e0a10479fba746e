

def test_sign_in_page_lets_its_form_reach_the_client_it_resumes(client, user, confidential_client):
    """Browsers apply CSP form-action to the redirect after the POST (to the client)."""
    response = client.get("/authorize", query_string={
        "response_type": "code", "client_id": "docs", "scope": "openid", "state": "s",
        "redirect_uri": confidential_client.redirect_uri,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.2:5001;" in csp
    plain = client.get("/login")
    assert "form-action 'self';" in plain.headers["Content-Security-Policy"]  # no dangling space
