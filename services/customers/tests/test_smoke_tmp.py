import time
import pytest
from services.customers.tests.conftest import MANAGER, person

pytestmark = pytest.mark.integration

async def test_smoke(client, event_log):
    t = time.monotonic()
    r = await client.post("/customers", json=person(phones=["0812-3456-7890"]), headers={**MANAGER, "X-Request-ID": "req-smoke"})
    print(r.status_code, r.headers, r.json())
    cid = r.json()["id"]
    ev = await event_log.wait_for(lambda p: p.key == cid)
    print(time.monotonic() - t, ev)
