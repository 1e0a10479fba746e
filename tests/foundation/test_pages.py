"""Shared page behaviour: language, error pages, security headers."""


def test_unknown_page_is_a_readable_error_in_vietnamese(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert '<html lang="vi">' in body
    assert "Đã có lỗi xảy ra" in body


def test_language_switch_shows_english(client):
    body = client.get("/no-such-page?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<html lang="en">' in body and "Something went wrong" in body


def test_programs_get_json_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_security_headers_on_every_page(client):
    response = client.get("/.well-known/openid-configuration")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # http loopback issuer


def test_request_too_large_is_413(client):
    response = client.post("/token", data="x" * 2_000_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
