"""``univoice serve`` and ``univoice events parse|list|tail|replay``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stderr, stdout

if TYPE_CHECKING:
    from univoice.store import EventStatus, FlowStore, StoredEvent

app = typer.Typer(help="Inspect, follow and replay webhook events.", no_args_is_help=True)
StoreUrl = Annotated[str | None, typer.Option(
    "--store", help="Flow store URL (default: flow_store from the configuration).")]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    flow: Annotated[Path | None, typer.Option(
        "--flow", "-f", help="Flow that answers every inbound call.")] = None,
    app_target: Annotated[str | None, typer.Option(
        "--app", help="Your own VoiceApp (or a function making one) as module:attribute.")] = None,
    store: StoreUrl = None,
    public_url: Annotated[str | None, typer.Option(
        help="The URL providers reach this app at (default: public_url from config).")] = None,
    log_events: Annotated[bool, typer.Option(help="Log each event in one line.")] = True,
) -> None:
    """Serve the webhook app with uvicorn; print the URLs to give each provider."""
    import uvicorn

    from univoice.config import Config
    from univoice.plugins import provider_names

    if flow is not None:
        from univoice.flow import Flow

        Flow.load(flow)  # invalid flow: one clear error now, not in every worker
        os.environ["UNIVOICE_SERVE_FLOW"] = str(flow.resolve())
    if app_target:
        os.environ["UNIVOICE_SERVE_APP"] = app_target
    if store:
        os.environ["UNIVOICE_FLOW_STORE"] = store
    if public_url:
        os.environ["UNIVOICE_PUBLIC_URL"] = public_url
    os.environ.setdefault("UNIVOICE_SERVE_URL", f"http://{host}:{port}")
    config = Config.load()
    base = str(config.public_url or f"http://{host}:{port}").rstrip("/")
    stdout.print(f"univoice webhook app on http://{host}:{port} (public: {base})", markup=False)
    stdout.print(f"  store: {config.flow_store.split('@')[-1]}", markup=False)
    for name in provider_names():
        stdout.print(f"  {name}: callbacks and inbound calls -> {base}/univoice/{name}/events",
                     markup=False)
    stdout.print(f"  health: {base}/univoice/health", markup=False)
    if config.console.enabled:
        from univoice.console.settings import check

        check(config.console)  # no credentials: one clear error now, not in every worker
        stdout.print(f"  console: {base}/univoice/console/ (HTTP Basic: the [console] "
                     "username and password)", markup=False)
    uvicorn.run("univoice.webhooks.serve:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="info" if log_events else "warning",
                access_log=False)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="A saved callback body.")],
    provider: Annotated[str, typer.Option("--provider", "-p", help="Who sent it.")],
) -> None:
    """Print, as JSON, the neutral events a saved callback becomes (not verified)."""
    from univoice.plugins import get_provider
    from univoice.webhooks.request import WebhookRequest

    try:
        body = file.read_bytes()
    except OSError as exc:
        stderr.print(f"error: cannot read {file}: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    adapter = get_provider(provider)
    kind = "application/xml" if body.lstrip().startswith(b"<") else "application/json"
    request = WebhookRequest(method="POST", url=f"file://{file.resolve()}", path=str(file),
                             query={}, headers={"content-type": kind}, body=body)
    events = adapter.parse_events(request)
    emit_json([e.model_dump(mode="json", by_alias=True) for e in events])


def _store(url: str | None) -> FlowStore:
    from univoice.config import Config
    from univoice.store import open_store

    return open_store(url or Config.load().flow_store)


@app.command("list")
def list_events(
    status: Annotated[str | None, typer.Option(help="claimed, done or failed.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    store: StoreUrl = None,
    as_json: AsJson = False,
) -> None:
    """List recorded events (failed ones wait for `univoice events replay`)."""
    if status not in (None, "claimed", "done", "failed"):
        stderr.print("error: --status is one of claimed, done, failed", markup=False)
        raise typer.Exit(2)
    events = _store(store).events(status=cast("EventStatus | None", status), limit=limit)
    if as_json:
        emit_json([{"key": e.key, "status": e.status, "attempts": e.attempts,
                    "error": e.error, "event": e.event} for e in events])
        return
    for e in events:
        stdout.print(_line(e), markup=False)


def _line(e: StoredEvent) -> str:
    event = e.event
    when = time.strftime("%H:%M:%S", time.localtime(e.updated_at))
    extra = f"  error: {e.error}" if e.error else ""
    return (f"{when}  {e.status:<7} {event.get('type')} call={event.get('call_id')} "
            f"key={e.key}{extra}")


@app.command()
def tail(
    store: StoreUrl = None,
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 1.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many.")] = None,
) -> None:
    """Show events as they arrive (any process writing to the same store)."""
    source = _store(store)
    seen: set[tuple[str, str]] = {(e.key, e.status) for e in source.events(limit=200)}
    shown = 0
    while count is None or shown < count:
        for e in reversed(source.events(limit=200)):
            if (e.key, e.status) not in seen:
                seen.add((e.key, e.status))
                stdout.print(_line(e), markup=False)
                shown += 1
        time.sleep(interval)


@app.command()
def replay(
    app_target: Annotated[str, typer.Option(
        "--app", help="Your VoiceApp as module:attribute: its handlers run the events.")],
    keys: Annotated[list[str] | None, typer.Argument(help="Event keys to replay.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed event.")] = False,
) -> None:
    """Hand failed events to your handlers again."""
    import anyio

    from univoice.webhooks.serve import load_app

    voice_app = load_app(app_target)
    chosen = list(keys or [])
    if all_failed:
        chosen += [e.key for e in voice_app.store.events(status="failed", limit=10_000)]
    if not chosen:
        stderr.print("error: name event keys, or use --all-failed", markup=False)
        raise typer.Exit(2)
    failures = 0
    for key in chosen:
        ok = anyio.run(voice_app.replay, key)
        stdout.print(f"{'ok' if ok else 'FAILED'}: {key}", markup=False)
        failures += not ok
    if failures:
        raise typer.Exit(1)



