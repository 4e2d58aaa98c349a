"""The app starts, answers health checks and serves the login page."""


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "up"}


def test_login_page(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert b"Staff sign-in" in resp.data


def test_login_and_home(client, staff, auth):
    auth.login(staff["admin"])
    resp = client.get("/admin/users")
    assert resp.status_code == 200
    assert b"clerk1" in resp.data
