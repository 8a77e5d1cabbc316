"""Drives Cairn's MCP server with the official Python MCP SDK against the real `cairn` binary.

Usage: python scripts/mcp_client_test.py PATH/TO/cairn
Starts `cairn serve --demo` on a free port in a temporary data directory, signs people in over
the HTTP API to create their API tokens, then talks MCP over streamable HTTP as each of them.
"""

import asyncio
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

from mcp import ClientSession
from mcp.shared.exceptions import McpError
from mcp.types import INVALID_PARAMS
from mcp.client.streamable_http import streamablehttp_client

TABLE_TEAMS = {
    "orders": "sales",
    "customers": "sales",
    "order_items": "sales",
    "invoices": "finance",
    "payments": "finance",
    "salaries": "hr",
    "employees": "hr",
    "products": "product",
}


def http(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None), response.headers
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text else None), error.headers


class Person:
    """A signed-in demo person: their cookie session (for the HTTP API) and an API token."""

    def __init__(self, base, email, password):
        status, body, headers = http(
            base, "POST", "/api/v1/session", {"email": email, "password": password}
        )
        assert status == 200, (status, body)
        self.base = base
        self.email = email
        self.cookie = headers["Set-Cookie"].split(";")[0]
        self.csrf = body["csrf_token"]
        status, token, _ = self.api("POST", "/api/v1/tokens", {"name": "mcp test"})
        assert status in (200, 201), (status, token)
        self.token = token["token"]
        self.token_id = token["id"]

    def api(self, method, path, body=None):
        return http(
            self.base,
            method,
            path,
            body,
            {"Cookie": self.cookie, "X-CSRF-Token": self.csrf},
        )


async def with_session(base, token, action, timeout_seconds=30):
    headers = {"Authorization": f"Bearer {token}"}
    async with streamablehttp_client(base + "/mcp", headers=headers) as (read, write, _):
        # The SDK reports an HTTP 401 only as a request that never completes: bound the wait.
        timeout = datetime.timedelta(seconds=timeout_seconds)
        async with ClientSession(read, write, read_timeout_seconds=timeout) as session:
            init = await session.initialize()
            assert init.serverInfo.name == "cairn", init
            return await action(session)


def payload(result):
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


def text(result):
    assert not result.isError, result.content
    return result.content[0].text


async def tool_names(session):
    tools = await session.list_tools()
    for tool in tools.tools:
        if tool.name != "run_sql":
            assert tool.annotations.readOnlyHint is True, tool
    return {tool.name for tool in tools.tools}


async def find_table(session, name):
    found = payload(await session.call_tool("search", {"query": name, "kind": "table"}))
    return [item for item in found["items"] if item["name"] == name]


async def main(binary):
    data_dir = tempfile.mkdtemp(prefix="cairn-mcp-")
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,  # the demo people's passwords; the test reads the file
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = None
        for line in server.stderr:
            match = re.search(r"cairn is listening on (http://\S+)", line)
            if match:
                base = match.group(1).rstrip("/")
                break
        assert base, "the server did not say where it listens"
        # Keep reading the server's log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        people = {}
        with open(f"{data_dir}/demo-credentials.txt") as credentials:
            for line in credentials:
                email, password, role, _teams = line.split()
                people[role] = Person(base, email, password)
        admin, editor, viewer = people["admin"], people["editor"], people["viewer"]
        ids = {}

        async def as_admin(session):
            names = await tool_names(session)
            assert {"search", "read_resource", "list_glossary", "join_path", "lineage"} <= names
            assert "run_sql" not in names, "run_sql offered before an admin allowed it"
            for table in TABLE_TEAMS:
                for _ in range(60):  # the search index follows the demo seeding within seconds
                    found = await find_table(session, table)
                    if found:
                        break
                    await asyncio.sleep(0.5)
                assert len(found) == 1, (table, found)
                ids[table] = found[0]["id"]
            card = payload(await session.call_tool("read_resource", {"id": ids["orders"]}))
            assert card["path"].endswith("orders")
            column_names = [column["name"] for column in card["columns"]]
            assert "customer_id" in column_names and "id" in column_names, card
            assert card["keys"]["primary_key"] == ["id"], card
            referenced = {key["path"].split(".")[-1] for key in card["keys"]["foreign_keys"]}
            assert {"customers", "order_items", "invoices"} <= referenced, card
            # A small budget pages the columns, and the pages add up to all of them.
            seen, cursor = [], None
            while True:
                arguments = {"id": ids["orders"], "max_bytes": 2000}
                if cursor:
                    arguments["column_cursor"] = cursor
                page = payload(await session.call_tool("read_resource", arguments))
                size = len(json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode())
                assert size <= 2000 or len(page["columns"]) == 1, (size, page)
                seen += [column["name"] for column in page["columns"]]
                cursor = page["next_column_cursor"]
                if not cursor:
                    break
            assert seen == column_names and len(seen) == card["column_count"], (seen, column_names)
            # The join path is the assistant's own: each step names the columns it joins on.
            path = text(
                await session.call_tool(
                    "join_path", {"from_id": ids["payments"], "to_id": ids["customers"]}
                )
            )
            steps = [line[2:] for line in path.splitlines() if line.startswith("- ")]
            hops = [step.split(" → ")[1].rsplit(".", 2)[-2] for step in steps]
            assert hops == ["invoices", "orders", "customers"], path
            assert steps[0].startswith("warehouse.main.payments."), path
            lineage = text(await session.call_tool("lineage", {"id": ids["orders"]}))
            assert "sales_monthly_revenue" in lineage, lineage
            glossary = payload(await session.call_tool("list_glossary", {}))
            assert any(item["name"] == "Annual Recurring Revenue" for item in glossary["items"])
            assert all(item["kind"] == "term" for item in glossary["items"])
            resources = await session.list_resources()
            uris = [str(resource.uri) for resource in resources.resources]
            assert f"cairn://resources/{ids['salaries']}" in uris
            read = await session.read_resource(f"cairn://resources/{ids['orders']}")
            assert json.loads(read.contents[0].text)["id"] == ids["orders"]
            # Bad arguments and unknown tools are protocol errors, not crashes.
            for name, arguments in [
                ("read_resource", {"id": "orders"}),
                ("read_resource", {"id": ids["orders"], "max_bytes": 10}),
                ("search", {}),
                ("search", {"query": "orders", "colour": "blue"}),
                ("no_such_tool", {}),
            ]:
                try:
                    result = await session.call_tool(name, arguments)
                except McpError as error:
                    assert error.error.code == INVALID_PARAMS, (name, arguments, error)
                else:
                    raise AssertionError(f"{name} {arguments} answered {result}")

        await with_session(base, admin.token, as_admin)

        async def as_viewer(session):
            names = await tool_names(session)
            assert "run_sql" not in names
            for table, team in TABLE_TEAMS.items():
                found = await find_table(session, table)
                if team == "sales":
                    assert found, f"the sales viewer cannot find {table}"
                else:
                    assert not found, f"the sales viewer found {team}'s {table}"
                    for tool, arguments in [
                        ("read_resource", {"id": ids[table]}),
                        ("lineage", {"id": ids[table]}),
                        ("join_path", {"from_id": ids["orders"], "to_id": ids[table]}),
                    ]:
                        result = await session.call_tool(tool, arguments)
                        assert result.isError, (tool, table, result)
                        assert result.content[0].text == "not found", result
                    try:
                        await session.read_resource(f"cairn://resources/{ids[table]}")
                    except Exception as error:
                        assert "not found" in str(error)
                    else:
                        raise AssertionError(f"resources/read showed {table} to the viewer")
            # Relations to other teams' tables are left out of cards and lineage.
            card = payload(await session.call_tool("read_resource", {"id": ids["orders"]}))
            shown = json.dumps(card)
            assert "invoices" not in shown and "products" not in shown, card
            lineage = text(await session.call_tool("lineage", {"id": ids["order_items"]}))
            assert "products" not in lineage, lineage
            path = text(
                await session.call_tool(
                    "join_path", {"from_id": ids["order_items"], "to_id": ids["customers"]}
                )
            )
            assert "customers" in path and "products" not in path, path
            resources = await session.list_resources()
            for resource in resources.resources:
                table = str(resource.uri).rsplit("/", 1)[-1]
                assert int(table) not in [ids[t] for t, team in TABLE_TEAMS.items() if team != "sales"]
            # Glossary terms and search hits of other teams stay out too.
            glossary = {item["name"] for item in payload(await session.call_tool("list_glossary", {}))["items"]}
            assert "Annual Recurring Revenue" in glossary, glossary
            assert not glossary & {"Refund", "Gross Margin", "Headcount", "Attrition Rate"}, glossary
            status, visible, _ = viewer.api("GET", "/api/v1/resources?kind=term&limit=200")
            assert status == 200, visible
            assert glossary == {item["name"] for item in visible["items"]}, (glossary, visible)
            for query in ["refund", "salaries", "headcount", "invoices"]:
                found = payload(await session.call_tool("search", {"query": query}))["items"]
                paths = [item["path"] for item in found]
                assert not any(query in path.lower() for path in paths), (query, paths)

        await with_session(base, viewer.token, as_viewer)

        # Run SQL: off until an admin turns on Run SQL, grants a query permission and turns on
        # MCP SQL; then offered to the one granted, and only to them.
        status, integrations, _ = admin.api("GET", "/api/v1/integrations")
        assert status == 200, integrations
        warehouse = integrations[0]["id"]
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"run_sql_enabled": True})
        assert status == 200, body
        status, body, _ = admin.api(
            "PUT", f"/api/v1/integrations/{warehouse}/permissions", {"users": [], "teams": ["finance"]}
        )
        assert status == 200, body
        assert "run_sql" not in await with_session(base, editor.token, tool_names)
        status, body, _ = viewer.api("PUT", "/api/v1/settings/ai", {"mcp_sql_enabled": True})
        assert status == 403, body
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"mcp_sql_enabled": True})
        assert status == 200 and body["mcp_sql_enabled"] is True, body

        async def run_sql_as_editor(session):
            tools = await session.list_tools()
            run_sql = [tool for tool in tools.tools if tool.name == "run_sql"]
            assert run_sql, "run_sql missing for a granted editor"
            assert "returned to you" in run_sql[0].description
            result = payload(
                await session.call_tool(
                    "run_sql", {"integration_id": warehouse, "sql": "SELECT count(*) AS n FROM invoices"}
                )
            )
            assert result["columns"] == ["n"] and result["rows"][0][0] > 0, result
            refused = await session.call_tool(
                "run_sql", {"integration_id": warehouse, "sql": "SELECT * FROM salaries"}
            )
            assert refused.isError, refused
            # Rows past max_bytes are left out, and the answer says so.
            budgeted = payload(
                await session.call_tool(
                    "run_sql",
                    {"integration_id": warehouse, "sql": "SELECT * FROM invoices", "max_bytes": 2000},
                )
            )
            assert budgeted["truncated"] and budgeted["rows_left_out"] > 0, budgeted
            assert len(json.dumps(budgeted, separators=(",", ":")).encode()) <= 2000, budgeted

        await with_session(base, editor.token, run_sql_as_editor)
        assert "run_sql" not in await with_session(base, viewer.token, tool_names)
        # MCP SQL never outlives the workspace's Run SQL.
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"run_sql_enabled": False})
        assert status == 200, body
        assert "run_sql" not in await with_session(base, editor.token, tool_names)
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"run_sql_enabled": True})
        assert status == 200, body
        assert "run_sql" in await with_session(base, editor.token, tool_names)

        # Admins can switch a tool off for the workspace.
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"mcp_disabled_tools": ["join_path"]})
        assert status == 200, body
        assert "join_path" not in await with_session(base, viewer.token, tool_names)
        status, body, _ = admin.api("PUT", "/api/v1/settings/ai", {"mcp_disabled_tools": ["nope"]})
        assert status in (400, 422), body

        # Every tool call is in the audit log.
        status, audit, _ = admin.api("GET", "/api/v1/audit?limit=1000")
        assert status == 200, audit
        calls = [entry for entry in audit if entry["action"] == "mcp.tool_call"]
        assert any(entry["detail"]["tool"] == "run_sql" for entry in calls), calls[-3:]
        assert any(entry["actor"] is not None and entry["detail"]["tool"] == "search" for entry in calls)

        # A revoked token is refused at once, while a session with it is still open.
        async def revoke_midway(session):
            await session.send_ping()
            status, body, _ = viewer.api("DELETE", f"/api/v1/tokens/{viewer.token_id}")
            assert status in (200, 204), body
            try:
                await session.call_tool("search", {"query": "orders"})
            except Exception:
                return "refused"
            return "answered"

        try:
            outcome = await with_session(base, viewer.token, revoke_midway, 5)
        except Exception:
            outcome = "refused"
        assert outcome == "refused", "a revoked token was still answered"
        status, body, _ = http(
            base,
            "POST",
            "/mcp",
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"Authorization": f"Bearer {viewer.token}", "Accept": "application/json, text/event-stream"},
        )
        assert status == 401, (status, body)
        try:
            await with_session(base, viewer.token, tool_names, 5)
        except Exception:
            pass
        else:
            raise AssertionError("a revoked token could open an MCP session")
        # Unknown tokens and tokens anywhere but the Authorization header are refused; malformed
        # JSON-RPC gets the protocol's own error codes.
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        accept = {"Accept": "application/json, text/event-stream"}
        status, body, _ = http(base, "POST", "/mcp", ping, {"Authorization": "Bearer cairn_nonsense", **accept})
        assert status == 401, (status, body)
        for path in [f"/mcp?token={admin.token}", f"/mcp?access_token={admin.token}"]:
            status, body, _ = http(base, "POST", path, ping, accept)
            assert status == 401, (path, status, body)
        status, body, _ = http(base, "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping", "token": admin.token}, accept)
        assert status == 401, (status, body)
        auth = {"Authorization": f"Bearer {admin.token}", **accept}
        for malformed, code in [
            ({"id": 1, "method": "ping"}, -32600),
            ({"jsonrpc": "2.0", "id": 1, "method": "tools/destroy"}, -32601),
            ({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search", "arguments": "orders"}}, -32602),
        ]:
            status, body, _ = http(base, "POST", "/mcp", malformed, auth)
            assert body["error"]["code"] == code, (malformed, status, body)
        request = urllib.request.Request(base + "/mcp", data=b"{not json", method="POST")
        for key, value in {"Content-Type": "application/json", **auth}.items():
            request.add_header(key, value)
        try:
            urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            assert error.code == 400 and json.loads(error.read())["error"]["code"] == -32700
        else:
            raise AssertionError("a body that is not JSON was answered")
        # Cookies are no credential for /mcp.
        status, body, _ = http(
            base,
            "POST",
            "/mcp",
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"Cookie": admin.cookie, "Accept": "application/json, text/event-stream"},
        )
        assert status == 401, (status, body)
        print("mcp client test: ok")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
