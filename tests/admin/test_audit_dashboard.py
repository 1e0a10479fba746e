"""The audit log page (filters, pages, streamed exports) and the dashboard's numbers."""

import json
from datetime import timedelta

from idp.extensions import db
from idp.models import AuditEvent, SessionClient, TotpCredential, utcnow
from idp.services import audit, sessions
from idp.services.crypto import encrypt


def _events():
    audit.record("login", subject="an.nguyen", ip="10.0.0.1")
    audit.record("login", outcome="failure", subject="an.nguyen", details={"reason": "bad_password"})
    audit.record("account.lock", actor="system", subject="an.nguyen")
    audit.record("code.issued", actor="an.nguyen", subject="an.nguyen", client="docs")
    audit.record("token.issued", actor="docs", subject="an.nguyen", client="docs")
    audit.record("code.issued", actor="binh.tran", subject="binh.tran", client="docs")
    audit.record("code.issued", actor="binh.tran", subject="binh.tran", client="webmail")
    audit.record("user.created", actor="binh.tran", subject="=cmd|' /C calc'!A0")


def test_filters_and_pages(client, sign_in_as):
    _events()
    sign_in_as("auditor")
    page = client.get("/admin/audit?lang=en&client=docs").get_data(as_text=True)
    assert "3 events." in page and "webmail" not in page.split("<tbody>")[1]
    page = client.get("/admin/audit?lang=en&event_type=login&subject=an.nguyen").get_data(as_text=True)
    assert "2 events." in page and "bad_password" in page
    page = client.get("/admin/audit?lang=en&actor=binh.tran&event_type=code.").get_data(as_text=True)
    assert "2 events." in page
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert "0 events." in client.get(f"/admin/audit?lang=en&since={tomorrow}").get_data(as_text=True)
    today = utcnow().date().isoformat()
    assert "8 events." in client.get(f"/admin/audit?lang=en&since={today}&until={today}").get_data(as_text=True)
    for n in range(60):
        audit.record("test.filler", actor="bot", details={"n": n})
    first = client.get("/admin/audit?lang=en&actor=bot").get_data(as_text=True)
    assert "Page 1 of 2" in first and first.count("<code>test.filler</code>") == 50
    second = client.get("/admin/audit?lang=en&actor=bot&page=2").get_data(as_text=True)
    assert second.count("<code>test.filler</code>") == 10


def test_exports_stream_csv_and_json_lines(client, sign_in_as):
    _events()
    sign_in_as("auditor")
    response = client.get("/admin/audit/export.jsonl?client=docs")
    assert response.mimetype == "application/x-ndjson" and response.is_streamed
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [e["event_type"] for e in lines] == ["code.issued", "token.issued", "code.issued"]
    response = client.get("/admin/audit/export.csv?event_type=user.created")
    assert "attachment; filename=audit-" in response.headers["Content-Disposition"]
    rows = response.get_data(as_text=True).splitlines()
    assert rows[0] == "id,created_at,event_type,outcome,actor,subject,client,ip,details"
    assert len(rows) == 2 and "'=cmd" in rows[1]  # a formula is neutralised for spreadsheets


def test_the_audit_chain_still_verifies_after_admin_actions(client, sign_in_as, csrf, user):
    sign_in_as("admin")
    client.post(f"/admin/staff/{user.id}/end-sessions", data={"csrf_token": csrf()})
    audit.seal()
    count, bad, _ = audit.verify_chain()
    assert count >= 1 and bad is None


def test_dashboard_numbers_and_charts(client, sign_in_as, user, confidential_client):
    _events()
    session, _ = sessions.create_session(user, amr=["pwd"], acr=None)
    db.session.add(SessionClient(session_id=session.id, client_id=confidential_client.row.id))
    db.session.add(TotpCredential(user_id=user.id, secret_encrypted=encrypt("JBSWY3DPEHPK3PXP"),
                                  confirmed_at=utcnow()))
    db.session.commit()
    me = sign_in_as("auditor")
    page = client.get("/admin/dashboard?lang=en").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 3
    today = utcnow().date().isoformat()[5:]
    table = page.split("Staff signed in per day, per application</caption>")[1].split("</table>")[0]
    assert f"<th scope=\"col\">{today}</th>" in table
    assert '<tr><th scope="row">docs</th>' in table and table.split('<th scope="row">docs</th>')[1].split("</tr>")[0].endswith("<td>2</td>")
    assert table.split('<th scope="row">webmail</th>')[1].split("</tr>")[0].endswith("<td>1</td>")
    assert f"<tr><td>{utcnow().date().isoformat()}</td><td>1</td><td>1</td><td>50%</td><td>1</td></tr>" in page
    assert "<tr><td>docs</td><td>1</td></tr>" in page
    # an.nguyen has TOTP, the auditor and the fixture's other staff do not: 1 of 2 in VP.
    assert "<tr><td>Văn phòng Bộ</td><td>2</td><td>1</td><td>50%</td></tr>" in page
    assert me.department.code == "VP"
